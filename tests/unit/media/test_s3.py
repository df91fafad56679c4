"""The S3 store against a real S3-compatible server process (moto_server on localhost), over HTTP."""
import hashlib
import os
import tracemalloc

import pytest
from botocore.exceptions import ClientError

from media.store import BlobNotFound

MB = 1024 * 1024


def _keys(client, bucket):
    return [item["Key"] for item in client.list_objects_v2(Bucket=bucket).get("Contents", [])]


def test_round_trip_under_the_prefix_and_content_address(s3_store, s3_client, s3_bucket):
    data = b"photo of the house" * 100
    sha = s3_store.put_bytes(data)
    assert sha == hashlib.sha256(data).hexdigest()
    assert _keys(s3_client, s3_bucket) == [f"media/v1/{sha[:2]}/{sha[2:4]}/{sha}"]
    assert s3_store.exists(sha) and s3_store.size(sha) == len(data)
    assert s3_store.read_bytes(sha) == data
    assert list(s3_store.tmp_dir.iterdir()) == []


def test_blob_reads_ranges_after_a_seek(s3_store):
    data = bytes(range(256)) * 1000
    sha = s3_store.put_bytes(data)
    with s3_store.open(sha) as blob:
        assert blob.size == len(data) and blob.path is None and blob.seekable()
        assert blob.read(5) == data[:5]
        blob.seek(200_000)
        assert blob.read(10) == data[200_000:200_010]
        blob.seek(-3, os.SEEK_END)
        assert blob.read() == data[-3:]
        blob.seek(len(data) + 10)
        assert blob.read() == b""


def test_same_content_is_stored_once_and_sent_once(s3_store, s3_client, s3_bucket):
    puts = []
    s3_store.client.meta.events.register("before-call.s3.PutObject", lambda **kw: puts.append(1))
    first, second = s3_store.put_bytes(b"same photo"), s3_store.put_bytes(b"same photo")
    assert first == second
    assert len(_keys(s3_client, s3_bucket)) == 1
    assert len(puts) == 1


def test_missing_blob_is_blob_not_found(s3_store):
    missing = "f" * 64
    assert not s3_store.exists(missing)
    for call in (s3_store.open, s3_store.size, s3_store.read_bytes):
        with pytest.raises(BlobNotFound):
            call(missing)
    with pytest.raises(ValueError):
        s3_store.exists("../../etc/passwd")


def test_large_upload_goes_multipart_from_disk_in_bounded_memory(s3_store, s3_client, s3_bucket):
    size = 24 * MB
    block = os.urandom(MB)
    upload = s3_store.new_upload()
    for _ in range(size // MB):
        upload.write(block)
    parts = []
    s3_store.client.meta.events.register("before-call.s3.UploadPart", lambda **kw: parts.append(1))
    tracemalloc.start()
    try:
        sha = s3_store.commit(upload)
        _current, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert len(parts) == 5  # 24 MB in 5 MB parts
    assert peak < 12 * MB, f"peak {peak / MB:.1f} MB while sending 24 MB"
    assert s3_client.list_multipart_uploads(Bucket=s3_bucket).get("Uploads", []) == []
    digest = hashlib.sha256()
    with s3_store.open(sha) as blob:
        while chunk := blob.read(MB):
            digest.update(chunk)
    assert digest.hexdigest() == sha and s3_store.size(sha) == size


def test_a_failed_multipart_upload_leaves_nothing_under_the_final_key(s3_store, s3_client, s3_bucket):
    upload = s3_store.new_upload()
    for _ in range(12):
        upload.write(os.urandom(MB))
    sha = upload.sha256
    calls = []

    def fail_third_part(**kwargs):
        calls.append(1)
        if len(calls) == 3:
            raise ClientError({"Error": {"Code": "InternalError", "Message": "injected"}}, "UploadPart")

    s3_store.client.meta.events.register("before-call.s3.UploadPart", fail_third_part)
    with pytest.raises(Exception):
        s3_store.commit(upload)
    assert not s3_store.exists(sha)
    assert _keys(s3_client, s3_bucket) == []
    # s3transfer aborted the multipart upload, so no orphaned parts linger either
    assert s3_client.list_multipart_uploads(Bucket=s3_bucket).get("Uploads", []) == []
    upload.discard()
    assert list(s3_store.tmp_dir.iterdir()) == []
