"""Fixtures for the media tests: photos made with Pillow (EXIF written by Pillow too) and a real S3 server.

The S3 server is moto's standalone server in its own process on a free localhost port, spoken to over HTTP
by boto3 exactly as a deployment speaks to MinIO or AWS - not moto's in-process mock.
"""
from __future__ import annotations

import re
import socket
import subprocess
import sys
import time
import uuid
from pathlib import Path

import boto3
import pytest
from botocore.config import Config

from media.s3 import S3Store
from media.store import LocalStore

MB = 1024 * 1024


@pytest.fixture
def local_store(tmp_path) -> LocalStore:
    return LocalStore(tmp_path / "media", tmp_path / "tmp")


@pytest.fixture(scope="session")
def s3_endpoint(tmp_path_factory):
    """A moto_server process on a free localhost port for the whole session; its URL."""
    log_path = tmp_path_factory.mktemp("moto") / "moto.log"
    with open(log_path, "wb") as log:
        # port 0: the OS picks a free port, the server prints it - no race with other processes
        process = subprocess.Popen([sys.executable, "-m", "moto.server", "-H", "127.0.0.1", "-p", "0"],
                                   stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL)
    try:
        url = _wait_for_server(process, log_path, timeout=30)
        yield url
    finally:
        process.terminate()
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


def _wait_for_server(process: subprocess.Popen, log_path: Path, timeout: float) -> str:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"moto_server exited with {process.returncode}:\n{log_path.read_text()}")
        match = re.search(r"Running on http://127\.0\.0\.1:(\d+)", log_path.read_text(errors="replace"))
        if match:
            port = int(match.group(1))
            with socket.create_connection(("127.0.0.1", port), timeout=1):
                return f"http://127.0.0.1:{port}"
        time.sleep(0.05)
    raise RuntimeError(f"moto_server did not start within {timeout} s:\n{log_path.read_text()}")


S3_ENV_KEYS = {"AWS_ACCESS_KEY_ID": "testing", "AWS_SECRET_ACCESS_KEY": "testing", "AWS_REGION": "us-east-1"}


@pytest.fixture
def s3_env(s3_endpoint) -> dict[str, str]:
    return {"ZOUFANG_S3_ENDPOINT": s3_endpoint, **S3_ENV_KEYS}


@pytest.fixture
def s3_client(s3_endpoint):
    return boto3.client("s3", endpoint_url=s3_endpoint, region_name="us-east-1", aws_access_key_id="testing",
                        aws_secret_access_key="testing", config=Config(s3={"addressing_style": "path"}))


@pytest.fixture
def s3_bucket(s3_client) -> str:
    """A fresh bucket per test, so that tests do not see each other's objects."""
    name = f"zoufang-{uuid.uuid4().hex[:12]}"
    s3_client.create_bucket(Bucket=name)
    return name


@pytest.fixture
def s3_store(s3_env, s3_bucket, tmp_path) -> S3Store:
    # a low multipart threshold, so that a test-sized file goes through the multipart path (parts ≥ 5 MB)
    return S3Store.from_url(f"s3://{s3_bucket}/media/v1", tmp_path / "tmp", s3_env,
                            multipart_threshold=8 * MB, multipart_chunksize=5 * MB)
