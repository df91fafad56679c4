"""Content-addressed blob storage on local disk, fed by streaming uploads.

An upload is written to a temporary file while its SHA-256 is computed on the fly (`SpooledUpload`), so a
50 MB photo never sits in memory and is never read twice. `LocalStore.commit` makes it durable (fsync) and
moves it under its final name in one rename: a reader never sees a partial file under a final name, and the
same content uploaded twice is stored once.
"""
from __future__ import annotations

import errno
import hashlib
import os
import shutil
import tempfile
from pathlib import Path
from typing import BinaryIO


class SpooledUpload:
    """A writable temporary file that knows the SHA-256, MD5 and size of what was written to it."""

    def __init__(self, tmp_dir: Path):
        tmp_dir.mkdir(parents=True, exist_ok=True)
        fd, name = tempfile.mkstemp(dir=tmp_dir, prefix="upload-")
        #: the temporary file; None once the store has moved it under its final name
        self.path: Path | None = Path(name)
        self._file = os.fdopen(fd, "w+b")
        self._sha256 = hashlib.sha256()
        self._md5 = hashlib.md5()
        self.size = 0

    # the subset of the file protocol Werkzeug's form parser and FileStorage use
    def write(self, data: bytes) -> int:
        self._sha256.update(data)
        self._md5.update(data)
        self.size += len(data)
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

    @property
    def md5(self) -> str:
        return self._md5.hexdigest()

    def sync(self) -> None:
        self._file.flush()
        os.fsync(self._file.fileno())

    def close(self) -> None:
        if not self._file.closed:
            self._file.close()

    def discard(self) -> None:
        """Remove the temporary file unless the store took it; safe to call any number of times."""
        self.close()
        if self.path is not None:
            self.path.unlink(missing_ok=True)
            self.path = None


class LocalStore:
    """Blobs at <root>/<aa>/<bb>/<sha256>."""

    def __init__(self, root: Path, tmp_dir: Path | None = None):
        self.root = Path(root)
        self.tmp_dir = Path(tmp_dir) if tmp_dir else self.root / ".tmp"
        self.root.mkdir(parents=True, exist_ok=True)
        self.tmp_dir.mkdir(parents=True, exist_ok=True)

    def new_upload(self) -> SpooledUpload:
        return SpooledUpload(self.tmp_dir)

    def path(self, sha256: str) -> Path:
        if len(sha256) != 64 or not all(c in "0123456789abcdef" for c in sha256):
            raise ValueError("not a sha256 hex digest")
        return self.root / sha256[:2] / sha256[2:4] / sha256

    def exists(self, sha256: str) -> bool:
        return self.path(sha256).exists()

    def commit(self, upload: SpooledUpload) -> str:
        """Make the upload durable under its content address; the temporary file is gone afterwards."""
        sha256 = upload.sha256
        final = self.path(sha256)
        if final.exists():
            upload.discard()
            return sha256
        upload.sync()
        upload.close()
        final.parent.mkdir(parents=True, exist_ok=True)
        try:
            os.replace(upload.path, final)
        except OSError as exc:
            if exc.errno != errno.EXDEV:
                raise
            # temporary folder on another file system: copy next to the target, then rename there
            staging = final.with_name(final.name + ".part")
            shutil.copyfile(upload.path, staging)
            _fsync_file(staging)
            os.replace(staging, final)
            upload.path.unlink()
        upload.path = None
        _fsync_dir(final.parent)
        return sha256

    def put_bytes(self, data: bytes) -> str:
        upload = self.new_upload()
        try:
            upload.write(data)
            return self.commit(upload)
        except BaseException:
            upload.discard()
            raise

    def open(self, sha256: str) -> BinaryIO:
        return open(self.path(sha256), "rb")

    def read_bytes(self, sha256: str) -> bytes:
        return self.path(sha256).read_bytes()


def _fsync_file(path: Path) -> None:
    with open(path, "rb") as handle:
        os.fsync(handle.fileno())


def _fsync_dir(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)
