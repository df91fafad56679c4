"""The S3 store against a real S3-compatible server process (moto_server on localhost), over HTTP."""
import hashlib
import os
import socket
import tracemalloc

import boto3
import pytest
from botocore.config import Config
from botocore.exceptions import ClientError

from media.s3 import S3Store
from media.store import BlobNotFound, StoreUnavailable

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


def test_check_passes_for_a_bucket_that_is_there(s3_store):
    s3_store.check()


def test_check_refuses_a_missing_bucket_saying_what_to_check(s3_env, tmp_path):
    store = S3Store.from_url("s3://no-such-bucket/media", tmp_path / "tmp", s3_env)
    with pytest.raises(StoreUnavailable) as refused:
        store.check()
    message = str(refused.value)
    assert "s3://no-such-bucket/media" in message and "NoSuchBucket" in message
    assert "ZOUFANG_S3_ENDPOINT" in message and "存储桶" in message


def test_check_refuses_an_endpoint_that_does_not_answer(tmp_path):
    with socket.socket() as unused:  # a port nobody listens on
        unused.bind(("127.0.0.1", 0))
        port = unused.getsockname()[1]
    # one attempt: the store's own client retries with back-off for ~10 s before it gives up
    client = boto3.client("s3", endpoint_url=f"http://127.0.0.1:{port}", region_name="us-east-1",
                          aws_access_key_id="k", aws_secret_access_key="s", config=Config(retries={"max_attempts": 1}))
    with pytest.raises(StoreUnavailable, match="Could not connect"):
        S3Store(client, "bucket", "media", tmp_path / "tmp").check()


@pytest.fixture
def missing_bucket_env(monkeypatch, s3_env, tmp_path):
    for name, value in {**s3_env, "ZOUFANG_DATA_DIR": str(tmp_path / "data"),
                        "ZOUFANG_MEDIA_URL": "s3://no-such-bucket/media"}.items():
        monkeypatch.setenv(name, value)
    monkeypatch.delenv("ZOUFANG_DATABASE_URL", raising=False)
    return tmp_path / "data"


def test_the_server_refuses_to_start_on_a_missing_bucket(missing_bucket_env):
    """Issue 17 item 15: not a server that starts and answers 500 NoSuchBucket per submission."""
    from server.serving import main
    with pytest.raises(SystemExit) as stopped:
        main(["--port", "0", "--workers", "1"])
    assert "no-such-bucket" in str(stopped.value.code) and "NoSuchBucket" in str(stopped.value.code)
    assert not (missing_bucket_env / "zoufang.sqlite3").exists()  # refused before the database was touched


def test_a_command_refuses_to_run_on_a_missing_bucket(missing_bucket_env):
    from server.app import create_command_app
    result = create_command_app().test_cli_runner().invoke(args=["users", "list"])
    assert result.exit_code == 1
    assert "NoSuchBucket" in result.output and "no-such-bucket" in result.output
