"""The local content-addressed store: streamed, durable, deduplicated, never partial under a final name."""
import hashlib
import io
import os
import time
import tracemalloc

import pytest
from werkzeug.formparser import parse_form_data

from media.s3 import S3Store
from media.store import (ORPHAN_UPLOAD_SECONDS, BlobNotFound, LocalStore, SpooledUpload, Store, remove_orphan_uploads,
                         store_from_url)
from support import uploads_left

MB = 1024 * 1024


def test_upload_is_hashed_while_written_and_committed_under_its_sha256(tmp_path):
    store = LocalStore(tmp_path / "media", tmp_path / "tmp")
    upload = store.new_upload()
    for chunk in (b"abc", b"def" * 1000):
        upload.write(chunk)
    data = b"abc" + b"def" * 1000
    assert upload.sha256 == hashlib.sha256(data).hexdigest()
    sha = store.commit(upload)
    assert store.read_bytes(sha) == data
    assert store.path(sha) == tmp_path / "media" / sha[:2] / sha
    assert uploads_left(tmp_path / "tmp") == []


def _blobs(root):
    return [p for p in root.glob("??/*") if p.is_file()]


def test_same_content_is_stored_once(tmp_path):
    store = LocalStore(tmp_path / "media", tmp_path / "tmp")
    first = store.put_bytes(b"same")
    second = store.put_bytes(b"same")
    assert first == second
    assert len(_blobs(tmp_path / "media")) == 1
    assert uploads_left(tmp_path / "tmp") == []


def test_a_commit_syncs_the_content_in_its_slot_and_not_the_folder_it_is_renamed_into(tmp_path, synced):
    # the slot's name is durable already (media/slots.py): one flush per blob, and a crash that loses the rename
    # gives the content back in its slot
    store = LocalStore(tmp_path / "media", tmp_path / "tmp")
    synced.clear()  # laying out the store's folders syncs them too
    first = store.new_upload()
    first.write(os.urandom(100_000))
    store.commit(first)
    root, folder, slot = synced
    assert root == str(tmp_path / "tmp" / "slots") and os.path.dirname(slot) == folder  # a batch of slots is made
    synced.clear()
    second = store.new_upload()
    second.write(os.urandom(100_000))
    store.commit(second)
    assert len(synced) == 1 and os.path.dirname(synced[0]) == folder


def test_an_upload_outside_the_slots_gets_the_folder_it_is_renamed_into_synced(tmp_path, synced):
    store = LocalStore(tmp_path / "media", tmp_path / "tmp")
    upload = SpooledUpload(tmp_path / "elsewhere")
    upload.write(os.urandom(100_000))
    synced.clear()
    sha = store.commit(upload)
    temporary, folder = synced
    assert temporary.startswith(str(tmp_path / "elsewhere")) and folder == str(tmp_path / "media" / sha[:2])


def test_content_stored_before_is_neither_written_nor_synced_again(tmp_path, synced):
    # its name is durable, or it came from a slot that a crash would give back
    store = LocalStore(tmp_path / "media", tmp_path / "tmp")
    photo = os.urandom(100_000)
    sha = store.put_bytes(photo)
    synced.clear()
    assert store.put_bytes(photo) == sha
    assert synced == [] and uploads_left(tmp_path / "tmp") == []


def test_discarded_upload_leaves_nothing(tmp_path):
    store = LocalStore(tmp_path / "media", tmp_path / "tmp")
    upload = store.new_upload()
    upload.write(b"partial")
    upload.discard()
    upload.discard()
    assert uploads_left(tmp_path / "tmp") == []
    assert _blobs(tmp_path / "media") == []


def test_path_refuses_anything_but_a_digest(tmp_path):
    store = LocalStore(tmp_path / "media")
    for bad in ("../../etc/passwd", "A" * 64, "abc"):
        try:
            store.path(bad)
        except ValueError:
            continue
        raise AssertionError(f"accepted {bad!r}")


# --- the Store interface on local disk --------------------------------------------------------------------


def test_open_gives_a_seekable_blob_that_knows_its_size_and_path(local_store):
    sha = local_store.put_bytes(b"0123456789")
    with local_store.open(sha) as blob:
        assert (blob.size, blob.sha256, blob.path) == (10, sha, local_store.path(sha))
        blob.seek(4)
        assert blob.read(3) == b"456"
    assert local_store.size(sha) == 10


def test_missing_blob_is_blob_not_found_and_a_file_not_found_error(local_store):
    missing = "0" * 64
    assert not local_store.exists(missing)
    for call in (local_store.open, local_store.size, local_store.read_bytes):
        with pytest.raises(BlobNotFound):
            call(missing)
    assert issubclass(BlobNotFound, FileNotFoundError)


def test_store_from_url_chooses_the_backend(tmp_path, s3_env):
    assert isinstance(store_from_url(str(tmp_path / "m"), tmp_path / "t"), LocalStore)
    local = store_from_url(f"file://{tmp_path / 'm2'}", tmp_path / "t")
    assert isinstance(local, LocalStore) and local.root == tmp_path / "m2"
    s3 = store_from_url("s3://bucket/some/prefix/", tmp_path / "t", s3_env)
    assert isinstance(s3, S3Store) and isinstance(s3, Store)
    assert (s3.bucket, s3.prefix, s3.tmp_dir) == ("bucket", "some/prefix", tmp_path / "t")
    assert s3.client.meta.endpoint_url == s3_env["ZOUFANG_S3_ENDPOINT"]
    assert s3.key("ab" * 32) == "some/prefix/ab/ab/" + "ab" * 32
    with pytest.raises(ValueError):
        store_from_url("ftp://example.org/media", tmp_path / "t")


class MultipartBody(io.RawIOBase):
    """A multipart/form-data request body made on the fly: the 50 MB never exist in memory at once."""

    def __init__(self, boundary: str, file_size: int, block: bytes):
        super().__init__()
        self.head = (f"--{boundary}\r\nContent-Disposition: form-data; name=\"photo\"; filename=\"big.jpg\"\r\n"
                     "Content-Type: image/jpeg\r\n\r\n").encode()
        self.tail = f"\r\n--{boundary}--\r\n".encode()
        self.file_size, self.block = file_size, block
        self.length = len(self.head) + file_size + len(self.tail)
        self.pos = 0

    def readable(self):
        return True

    def _byte_range(self, start: int, end: int) -> bytes:
        out = bytearray()
        body_start, body_end = len(self.head), len(self.head) + self.file_size
        if start < body_start:
            out += self.head[start:min(end, body_start)]
        if end > body_start and start < body_end:
            first, last = max(start, body_start) - body_start, min(end, body_end) - body_start
            while first < last:
                offset = first % len(self.block)
                piece = self.block[offset:offset + (last - first)]
                out += piece
                first += len(piece)
        if end > body_end:
            out += self.tail[max(start, body_end) - body_end:end - body_end]
        return bytes(out)

    def readinto(self, buffer):
        end = min(self.pos + len(buffer), self.length)
        data = self._byte_range(self.pos, end)
        buffer[:len(data)] = data
        self.pos = end
        return len(data)


def test_a_50_mb_upload_streams_through_the_form_parser_into_the_store_in_constant_memory(local_store):
    size, block = 50 * MB, os.urandom(MB)
    body = MultipartBody("zoufangboundary", size, block)
    environ = {"REQUEST_METHOD": "POST", "CONTENT_TYPE": "multipart/form-data; boundary=zoufangboundary",
               "CONTENT_LENGTH": str(body.length), "wsgi.input": io.BufferedReader(body, 64 * 1024)}

    def stream_factory(total_content_length, content_type, filename=None, content_length=None):
        return local_store.new_upload()  # what server.UploadRequest._get_file_stream does

    tracemalloc.start()
    try:
        _stream, _form, files = parse_form_data(environ, stream_factory=stream_factory)
        upload = files["photo"].stream
        sha = local_store.commit(upload)
        _current, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert local_store.size(sha) == size
    assert peak < 4 * MB, f"peak {peak / MB:.1f} MB while streaming a 50 MB upload"
    with local_store.open(sha) as blob:
        blob.seek(size - 10)
        assert blob.read() == block[(size - 10) % MB:(size - 10) % MB + 10]


def test_a_small_upload_stays_in_memory_until_the_store_needs_its_file(tmp_path):
    store = LocalStore(tmp_path / "media", tmp_path / "tmp")
    upload = store.new_upload()
    upload.write(b"<data/>")
    assert uploads_left(tmp_path / "tmp") == []
    upload.seek(0)
    assert upload.read() == b"<data/>"
    sha = store.commit(upload)
    assert store.read_bytes(sha) == b"<data/>" and uploads_left(tmp_path / "tmp") == []


def test_a_large_upload_spills_to_disk_once_past_the_memory_limit(tmp_path):
    store = LocalStore(tmp_path / "media", tmp_path / "tmp")
    upload = store.new_upload()
    data = os.urandom(upload.memory_limit + 1)
    upload.write(data[:1000])
    assert uploads_left(tmp_path / "tmp") == []
    upload.write(data[1000:])
    assert [p.stat().st_size for p in uploads_left(tmp_path / "tmp")] == [len(data)]
    assert upload.sha256 == hashlib.sha256(data).hexdigest()
    sha = store.commit(upload)
    assert store.read_bytes(sha) == data and uploads_left(tmp_path / "tmp") == []


def test_a_new_store_lays_out_its_256_folders_once(tmp_path):
    LocalStore(tmp_path / "media", tmp_path / "tmp")
    folders = sorted(p.name for p in (tmp_path / "media").iterdir() if p.is_dir())
    assert folders == [f"{n:02x}" for n in range(256)]
    assert (tmp_path / "media" / ".layout").read_text() == LocalStore.LAYOUT


def test_blobs_of_the_two_level_layout_move_into_their_folder(tmp_path):
    data = b"stored by an earlier version"
    sha = hashlib.sha256(data).hexdigest()
    legacy = tmp_path / "media" / sha[:2] / sha[2:4]
    legacy.mkdir(parents=True)
    (legacy / sha).write_bytes(data)
    store = LocalStore(tmp_path / "media", tmp_path / "tmp")
    assert store.read_bytes(sha) == data
    assert not legacy.exists()


def test_a_removed_folder_is_made_again_when_a_blob_needs_it(tmp_path):
    import shutil

    store = LocalStore(tmp_path / "media", tmp_path / "tmp")
    sha = hashlib.sha256(b"x").hexdigest()
    shutil.rmtree(tmp_path / "media" / sha[:2])
    assert store.put_bytes(b"x") == sha
    assert store.read_bytes(sha) == b"x"


def test_processes_starting_together_move_the_old_layout_once_without_tripping(tmp_path):
    import threading

    contents = [f"blob {i}".encode() for i in range(600)]
    for data in contents:
        sha = hashlib.sha256(data).hexdigest()
        legacy = tmp_path / "media" / sha[:2] / sha[2:4]
        legacy.mkdir(parents=True, exist_ok=True)
        (legacy / sha).write_bytes(data)
    errors = []

    def start():
        try:
            LocalStore(tmp_path / "media", tmp_path / "tmp")
        except Exception as exc:  # noqa: BLE001 - collected for the assertion
            errors.append(exc)

    threads = [threading.Thread(target=start) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(60)
    assert errors == []
    store = LocalStore(tmp_path / "media", tmp_path / "tmp")
    assert all(store.read_bytes(hashlib.sha256(d).hexdigest()) == d for d in contents)
    assert not [p for p in (tmp_path / "media").glob("??/??") if p.is_dir()]


def test_orphan_uploads_go_only_once_untouched_for_the_safe_age(tmp_path):
    tmp = tmp_path / "tmp"
    tmp.mkdir()
    old, recent, other = tmp / "upload-a", tmp / "upload-b", tmp / "notes.txt"
    for path in (old, recent, other):
        path.write_bytes(b"x")
    now = time.time()
    os.utime(old, (now - ORPHAN_UPLOAD_SECONDS - 1,) * 2)
    os.utime(other, (now - ORPHAN_UPLOAD_SECONDS - 1,) * 2)
    os.utime(recent, (now - ORPHAN_UPLOAD_SECONDS + 60,) * 2)  # a slow upload, but alive
    assert remove_orphan_uploads(tmp, now=now) == 1
    assert not old.exists() and recent.exists() and other.exists()
