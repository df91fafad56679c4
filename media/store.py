"""Content-addressed blob storage behind one small interface, fed by streaming uploads.

An upload is written to a temporary file on local disk while its SHA-256 is computed on the fly
(`SpooledUpload`; a small one stays in memory until a store needs its file), so a 50 MB photo never sits in
memory and is never read twice. A `Store` then makes it
durable under its content address in one atomic step: `LocalStore` by fsync and rename, `S3Store`
(media/s3.py) by a single PUT or a completed multipart upload. A reader never sees a partial blob under a
final name, and the same content uploaded twice is stored once.

Reading gives a `Blob`: a buffered, seekable binary file that knows its size, so that HTTP handlers can
answer Range requests and Pillow can read it. `store_from_url` picks the backend from ZOUFANG_MEDIA_URL.
"""
from __future__ import annotations

import abc
import errno
import hashlib
import io
import os
import shutil
import tempfile
import time
from pathlib import Path
from typing import Mapping
from urllib.parse import urlparse

from media.durable import fsync_dir, fsync_file
from media.slots import UploadSlots

HEX = frozenset("0123456789abcdef")
#: temporary upload files are named so (in the store's tmp_dir) when they are not in an upload slot
UPLOAD_PREFIX = "upload-"
#: an `upload-*` file untouched for this long belongs to no live request: a request writes its upload as the bytes
#: arrive, and a sibling process's upload stalled this long has been given up by gunicorn and the phone alike
ORPHAN_UPLOAD_SECONDS = 3600
#: a LocalStore's blob folders, by the first two hex digits of the digest
PREFIXES = tuple(f"{n:02x}" for n in range(256))


class BlobNotFound(FileNotFoundError):
    """No blob with this content address; a FileNotFoundError, whatever the backend."""


class StoreUnavailable(RuntimeError):
    """The configured store cannot be used (a missing bucket, wrong keys, an endpoint that does not answer): the
    server refuses to start rather than answer 500 to every submission. The message says what to check."""


def check_digest(sha256: str) -> str:
    """The digest itself, or ValueError: a content address is 64 lower-case hex digits and nothing else."""
    if not isinstance(sha256, str) or len(sha256) != 64 or not HEX.issuperset(sha256):
        raise ValueError("not a sha256 hex digest")
    return sha256


class SpooledUpload:
    """A writable temporary file that knows the SHA-256 and size of what was written to it.

    The first `memory_limit` bytes stay in memory: a submission's XML part (a few KB) then never costs a file
    created, written and unlinked. Past the limit everything moves to a temporary file on disk, so a 50 MB
    photo is never held in memory. A store's `commit` asks for `path`, which spills a small upload to disk.

    Given `slots` (media/slots.py), it spills into an upload slot, whose name is already durable, instead of a
    new temporary file.
    """

    memory_limit = 64 * 1024

    def __init__(self, tmp_dir: Path, slots: UploadSlots | None = None):
        self._tmp_dir = tmp_dir
        self._slots = slots
        self._file: io.BufferedRandom | io.BytesIO = io.BytesIO()
        self._path: Path | None = None
        self._sha256 = hashlib.sha256()
        self.size = 0

    @property
    def path(self) -> Path | None:
        """The temporary file (spilled to disk on first use); None once the store has moved it or it was
        discarded."""
        self._on_disk()
        return self._path

    @path.setter
    def path(self, value: Path | None) -> None:
        self._path = value

    @property
    def in_slot(self) -> bool:
        """On disk in an upload slot: once synced, the content is under a name that survives a crash."""
        return self._slots is not None and not isinstance(self._file, io.BytesIO)

    def _on_disk(self) -> None:
        if isinstance(self._file, io.BytesIO) and not self._file.closed:
            self._spill()

    def _spill(self) -> None:
        if self._slots is not None:
            fd, name = self._slots.take()
        else:
            try:
                fd, name = tempfile.mkstemp(dir=self._tmp_dir, prefix=UPLOAD_PREFIX)
            except FileNotFoundError:  # the folder was removed since the store made it
                self._tmp_dir.mkdir(parents=True, exist_ok=True)
                fd, name = tempfile.mkstemp(dir=self._tmp_dir, prefix=UPLOAD_PREFIX)
        spilled = os.fdopen(fd, "w+b")
        position = self._file.tell()
        spilled.write(self._file.getbuffer())
        spilled.seek(position)
        self._file = spilled
        self._path = Path(name)

    # the subset of the file protocol the multipart parsers (server/multipart.py, Werkzeug's) and FileStorage use
    def write(self, data: bytes) -> int:
        self._sha256.update(data)
        self.size += len(data)
        if isinstance(self._file, io.BytesIO) and self.size > self.memory_limit:
            self._spill()
        return self._file.write(data)

    def read(self, size: int = -1) -> bytes:
        return self._file.read(size)

    def seek(self, offset: int, whence: int = 0) -> int:
        return self._file.seek(offset, whence)

    def tell(self) -> int:
        return self._file.tell()

    def flush(self) -> None:
        self._file.flush()

    def readable(self) -> bool:
        return True

    def seekable(self) -> bool:
        return True

    def writable(self) -> bool:
        return True

    @property
    def sha256(self) -> str:
        return self._sha256.hexdigest()

    def sync(self) -> None:
        self._on_disk()
        self._file.flush()
        os.fsync(self._file.fileno())

    def close(self) -> None:
        if not self._file.closed:
            self._on_disk()  # what was written stays readable through `path` after closing
            self._file.close()

    def discard(self) -> None:
        """Remove the temporary file unless the store took it; safe to call any number of times."""
        self._file.close()
        if self._path is not None:
            self._path.unlink(missing_ok=True)
            self._path = None


class Blob(io.BufferedReader):
    """A stored blob opened for reading: buffered, seekable, with its size and content address.

    `path` is the file on local disk when the backend has one (LocalStore), else None: callers that need
    cheap random access (Pillow) copy a remote blob to a temporary file first.
    """

    def __init__(self, raw: io.RawIOBase, size: int, sha256: str, path: Path | None = None,
                 buffer_size: int = 64 * 1024):
        super().__init__(raw, buffer_size)
        #: total size in bytes, whatever the current position
        self.size = size
        self.sha256 = sha256
        self.path = path


class Store(abc.ABC):
    """What the rest of the code may ask of a media store. Blobs are immutable and named by their SHA-256."""

    #: where uploads are spooled before commit (local disk, also for remote stores)
    tmp_dir: Path

    def new_upload(self) -> SpooledUpload:
        """A temporary file to stream an upload into; pass it to `commit`, or `discard` it."""
        return SpooledUpload(self.tmp_dir)

    def check(self) -> None:
        """Raise StoreUnavailable when the store cannot be used; called once at start."""

    @abc.abstractmethod
    def commit(self, upload: SpooledUpload) -> str:
        """Make the upload durable under its SHA-256 and return it; the temporary file is gone afterwards.

        Content already stored is not written again. On error the upload is left for the caller to discard.
        """

    @abc.abstractmethod
    def exists(self, sha256: str) -> bool: ...

    @abc.abstractmethod
    def size(self, sha256: str) -> int:
        """Size in bytes; BlobNotFound when absent."""

    @abc.abstractmethod
    def open(self, sha256: str) -> Blob:
        """The blob for reading (close it, or use `with`); BlobNotFound when absent."""

    def put_bytes(self, data: bytes) -> str:
        upload = self.new_upload()
        try:
            upload.write(data)
            return self.commit(upload)
        finally:
            upload.discard()

    def read_bytes(self, sha256: str) -> bytes:
        with self.open(sha256) as blob:
            return blob.read()


class LocalStore(Store):
    """Blobs at <root>/<aa>/<sha256>, aa being the digest's first two hex digits.

    Uploads spill into upload slots (media/slots.py) under <tmp_dir>/slots: a blob is then durable after one
    fsync of its file, and its folder is not synced after the rename. Opening the store reclaims the slots of
    processes that have ended, which files under its content address any upload whose rename a crash undid.

    The 256 folders are made, durably, when the store is first opened, so that storing a blob never creates a
    folder: a rename into an existing folder and one fsync of it. (A two-level <aa>/<bb>/ layout made a new
    folder, and two more fsyncs, for most blobs of the first hundred thousand.) A million photos are ~4,000
    entries per folder, which ext4's and XFS's hashed directories look up directly.
    """

    LAYOUT = "1: <aa>/<sha256>\n"

    def __init__(self, root: Path, tmp_dir: Path | None = None):
        self.root = Path(root)
        self.tmp_dir = Path(tmp_dir) if tmp_dir else self.root / ".tmp"
        self.root.mkdir(parents=True, exist_ok=True)
        self.tmp_dir.mkdir(parents=True, exist_ok=True)
        marker = self.root / ".layout"
        if not marker.exists():
            self._lay_out(marker)
        self._slots = UploadSlots(self.tmp_dir / "slots")
        self._slots.reclaim(self._file_reclaimed, self._settle_renames)

    def new_upload(self) -> SpooledUpload:
        return SpooledUpload(self.tmp_dir, self._slots)

    def _file_reclaimed(self, slot: Path) -> None:
        """Store a reclaimed slot's content under its content address."""
        digest = hashlib.sha256()
        with open(slot, "rb") as content:
            for chunk in iter(lambda: content.read(1024 * 1024), b""):
                digest.update(chunk)
            os.fsync(content.fileno())  # its process may have ended before syncing it
        final = self.path(digest.hexdigest())
        if final.exists():
            slot.unlink()
            return
        final.parent.mkdir(exist_ok=True)
        self._move(slot, final)
        fsync_dir(final.parent)

    def _settle_renames(self) -> None:
        """Make durable the renames into the blob folders, which uploads from slots do not sync."""
        for prefix in PREFIXES:
            try:
                fsync_dir(self.root / prefix)
            except FileNotFoundError:  # removed: the next blob for it makes it again
                pass

    def _lay_out(self, marker: Path) -> None:
        """Make the 256 folders, moving blobs of the earlier <aa>/<bb>/ layout up into theirs; then write the
        marker that says this is done. Safe to repeat when interrupted, and when several processes start at
        once (what another one moved or removed first is skipped)."""
        for prefix in PREFIXES:
            folder = self.root / prefix
            folder.mkdir(exist_ok=True)
            for legacy in [p for p in folder.iterdir() if p.is_dir() and len(p.name) == 2]:
                try:
                    blobs = list(legacy.iterdir())
                except FileNotFoundError:
                    continue
                for blob in blobs:
                    try:
                        os.replace(blob, folder / blob.name)
                    except FileNotFoundError:
                        pass
                fsync_dir(folder)
                try:
                    legacy.rmdir()
                except OSError as exc:
                    if exc.errno not in (errno.ENOENT, errno.ENOTEMPTY):
                        raise
        # the new folders' entries are in the root: one fsync of it makes them all durable
        fsync_dir(self.root)
        marker.write_text(self.LAYOUT)
        fsync_file(marker)
        fsync_dir(self.root)

    def __repr__(self) -> str:
        return f"LocalStore({str(self.root)!r})"

    def path(self, sha256: str) -> Path:
        check_digest(sha256)
        return self.root / sha256[:2] / sha256

    def exists(self, sha256: str) -> bool:
        return self.path(sha256).exists()

    def size(self, sha256: str) -> int:
        try:
            return self.path(sha256).stat().st_size
        except FileNotFoundError:
            raise BlobNotFound(sha256) from None

    def open(self, sha256: str) -> Blob:
        path = self.path(sha256)
        try:
            raw = io.FileIO(path, "rb")
        except FileNotFoundError:
            raise BlobNotFound(sha256) from None
        return Blob(raw, os.fstat(raw.fileno()).st_size, sha256, path)

    def commit(self, upload: SpooledUpload) -> str:
        sha256 = upload.sha256
        final = self.path(sha256)
        if final.exists():
            # stored before: its name is durable, or it was renamed from a slot that a crash would give back
            upload.discard()
            return sha256
        upload.sync()
        upload.close()
        try:
            renamed = self._move(upload.path, final)
        except FileNotFoundError:  # its folder was removed since the store laid them out
            final.parent.mkdir(exist_ok=True)
            fsync_dir(self.root)
            renamed = self._move(upload.path, final)
        in_slot, upload.path = upload.in_slot, None
        if not (renamed and in_slot):  # a slot keeps the content under a durable name until the rename is
            fsync_dir(final.parent)
        return sha256

    @staticmethod
    def _move(source: Path, final: Path) -> bool:
        """Move a file to its final name: True when renamed, False when copied (the source is removed)."""
        try:
            os.replace(source, final)
            return True
        except OSError as exc:
            if exc.errno != errno.EXDEV:
                raise
            # temporary folder on another file system: copy next to the target, then rename there
            staging = final.with_name(final.name + ".part")
            shutil.copyfile(source, staging)
            fsync_file(staging)
            os.replace(staging, final)
            source.unlink()
            return False


def remove_orphan_uploads(tmp_dir: Path, max_age: float = ORPHAN_UPLOAD_SECONDS, now: float | None = None) -> int:
    """Remove the `upload-*` files a process killed mid-request left in `tmp_dir` (a request removes its own when
    it ends, however it ends, but not when its process is killed); returns how many. Only files untouched for
    `max_age` seconds go: a sibling worker process may be receiving an upload into this folder right now."""
    cutoff = (time.time() if now is None else now) - max_age
    removed = 0
    for path in Path(tmp_dir).glob(f"{UPLOAD_PREFIX}*"):
        try:
            if path.stat().st_mtime < cutoff:
                path.unlink()
                removed += 1
        except FileNotFoundError:  # another process starting at the same time took it
            pass
    return removed


def store_from_url(media_url: str, tmp_dir: Path, env: Mapping[str, str] | None = None) -> Store:
    """The store ZOUFANG_MEDIA_URL names: `s3://bucket/prefix` → S3Store, a path or file:// URL → LocalStore.

    For S3 the endpoint comes from ZOUFANG_S3_ENDPOINT (or AWS_ENDPOINT_URL_S3 / AWS_ENDPOINT_URL), the
    region from ZOUFANG_S3_REGION (or AWS_REGION / AWS_DEFAULT_REGION), keys from AWS_ACCESS_KEY_ID and
    AWS_SECRET_ACCESS_KEY (or boto3's usual chain: profile, instance role). `env` defaults to os.environ.
    """
    parsed = urlparse(media_url)
    if parsed.scheme == "s3":
        from media.s3 import S3Store

        return S3Store.from_url(media_url, Path(tmp_dir), os.environ if env is None else env)
    if parsed.scheme == "file":
        return LocalStore(Path(parsed.path), Path(tmp_dir))
    if parsed.scheme and len(parsed.scheme) > 1:  # one letter is a Windows drive, not a scheme
        raise ValueError(f"unsupported media URL scheme {parsed.scheme!r} in {media_url!r}")
    return LocalStore(Path(media_url), Path(tmp_dir))
