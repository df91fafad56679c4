"""The media store on S3-compatible object storage (AWS S3, MinIO, Ceph RGW, …) with boto3.

Blobs live at <prefix>/<aa>/<bb>/<sha256>. An upload is spooled and hashed on local disk first (the content
address must be known before the key is), then sent with boto3's managed transfer: one PUT for small files, a
multipart upload for large ones. Both become visible under the final key only when complete, so a reader
never sees a partial object. Content already stored (HEAD finds the key) is not sent again.

Reading is a streaming GET; seeking to another position starts a ranged GET from there, so HTTP Range
requests cost one ranged request, not a download of the whole object.

Operations notes: the bucket must exist; the credentials need s3:GetObject, s3:PutObject and s3:ListBucket
(without ListBucket a missing key answers 403, not 404). Give the bucket a lifecycle rule that aborts
incomplete multipart uploads after a day. boto3 sends CRC32 checksums by default; an older S3-compatible
server that rejects them needs AWS_REQUEST_CHECKSUM_CALCULATION=when_required in the environment.
"""
from __future__ import annotations

import io
from pathlib import Path
from typing import Any, Mapping
from urllib.parse import urlparse

import boto3
from boto3.s3.transfer import TransferConfig
from botocore.config import Config
from botocore.exceptions import BotoCoreError, ClientError, ConnectionError as BotoConnectionError, ReadTimeoutError
from botocore.exceptions import ResponseStreamingError

from media.store import Blob, BlobNotFound, SpooledUpload, Store, StoreUnavailable, check_digest

MB = 1024 * 1024
NOT_FOUND = {"404", "NoSuchKey", "NotFound"}
#: errors while reading a response body after which one fresh ranged GET is worth trying
STREAM_ERRORS = (ResponseStreamingError, ReadTimeoutError, BotoConnectionError)


class S3Store(Store):
    """Blobs in one bucket under a prefix."""

    def __init__(self, client: Any, bucket: str, prefix: str, tmp_dir: Path,
                 multipart_threshold: int = 16 * MB, multipart_chunksize: int = 8 * MB, max_concurrency: int = 4):
        self.client = client
        self.bucket = bucket
        self.prefix = prefix.strip("/")
        self.tmp_dir = Path(tmp_dir)
        self.tmp_dir.mkdir(parents=True, exist_ok=True)
        self.transfer = TransferConfig(multipart_threshold=multipart_threshold,
                                       multipart_chunksize=multipart_chunksize, max_concurrency=max_concurrency)

    @classmethod
    def from_url(cls, media_url: str, tmp_dir: Path, env: Mapping[str, str], **options) -> "S3Store":
        parsed = urlparse(media_url)
        if parsed.scheme != "s3" or not parsed.netloc:
            raise ValueError(f"not an s3://bucket/prefix URL: {media_url!r}")
        endpoint = (env.get("ZOUFANG_S3_ENDPOINT") or env.get("AWS_ENDPOINT_URL_S3")
                    or env.get("AWS_ENDPOINT_URL") or None)
        session = boto3.session.Session(
            aws_access_key_id=env.get("AWS_ACCESS_KEY_ID") or None,
            aws_secret_access_key=env.get("AWS_SECRET_ACCESS_KEY") or None,
            aws_session_token=env.get("AWS_SESSION_TOKEN") or None,
            region_name=env.get("ZOUFANG_S3_REGION") or env.get("AWS_REGION") or env.get("AWS_DEFAULT_REGION") or None,
        )
        # a self-hosted endpoint (MinIO, Ceph, a test server) rarely has wildcard DNS for bucket subdomains
        style = env.get("ZOUFANG_S3_ADDRESSING_STYLE") or ("path" if endpoint else "auto")
        config = Config(s3={"addressing_style": style}, retries={"max_attempts": 5, "mode": "standard"},
                        connect_timeout=10, read_timeout=60)
        client = session.client("s3", endpoint_url=endpoint, config=config)
        return cls(client, parsed.netloc, parsed.path, tmp_dir, **options)

    def __repr__(self) -> str:
        return f"S3Store('s3://{self.bucket}/{self.prefix}')"

    def key(self, sha256: str) -> str:
        check_digest(sha256)
        name = f"{sha256[:2]}/{sha256[2:4]}/{sha256}"
        return f"{self.prefix}/{name}" if self.prefix else name

    def check(self) -> None:
        """StoreUnavailable when the bucket is missing, the keys may not use it or the endpoint does not answer:
        found at start, not as a 500 NoSuchBucket on every submission."""
        try:
            self.client.head_bucket(Bucket=self.bucket)
        except ClientError as exc:
            # HEAD has no body: S3 answers a bare 404 or 403
            code = {"404": "NoSuchBucket", "403": "AccessDenied"}.get(_code(exc), _code(exc) or "error")
            reason = f"{code}: {exc.response.get('Error', {}).get('Message') or exc}"
        except BotoCoreError as exc:  # no answer, no credentials
            reason = str(exc)
        else:
            return
        where = f"s3://{self.bucket}/{self.prefix}"
        endpoint = self.client.meta.endpoint_url
        raise StoreUnavailable(
            f"媒体存储 {where}（{endpoint}）不可用（{reason}）：请确认存储桶已创建，并检查 ZOUFANG_MEDIA_URL、"
            f"ZOUFANG_S3_ENDPOINT 和 AWS_ACCESS_KEY_ID/AWS_SECRET_ACCESS_KEY。服务器没有启动。\n"
            f"The media store {where} at {endpoint} cannot be used ({reason}): create the bucket, or check "
            f"ZOUFANG_MEDIA_URL, ZOUFANG_S3_ENDPOINT and AWS_ACCESS_KEY_ID/AWS_SECRET_ACCESS_KEY. Not starting.")

    def _head(self, sha256: str) -> dict | None:
        try:
            return self.client.head_object(Bucket=self.bucket, Key=self.key(sha256))
        except ClientError as exc:
            if _code(exc) in NOT_FOUND:
                return None
            raise

    def exists(self, sha256: str) -> bool:
        return self._head(sha256) is not None

    def size(self, sha256: str) -> int:
        head = self._head(sha256)
        if head is None:
            raise BlobNotFound(sha256)
        return head["ContentLength"]

    def commit(self, upload: SpooledUpload) -> str:
        sha256 = upload.sha256
        if not self.exists(sha256):
            upload.close()
            # by file name, so that s3transfer reads each part from disk as it sends it (constant memory)
            self.client.upload_file(str(upload.path), self.bucket, self.key(sha256),
                                    ExtraArgs={"ContentType": "application/octet-stream"}, Config=self.transfer)
        upload.discard()
        return sha256

    def open(self, sha256: str) -> Blob:
        raw = _ObjectReader(self.client, self.bucket, self.key(sha256), sha256)
        return Blob(raw, raw.size, sha256)


class _ObjectReader(io.RawIOBase):
    """An S3 object as a seekable raw stream: one GET, and a ranged GET after each seek elsewhere."""

    def __init__(self, client: Any, bucket: str, key: str, sha256: str):
        super().__init__()
        self._client, self._bucket, self._key, self._sha256 = client, bucket, key, sha256
        self._pos = 0
        self._body = None
        self._body = self._get(0)  # the common case reads everything: learn the size from the same request

    def _get(self, start: int):
        args = {"Bucket": self._bucket, "Key": self._key}
        if start:
            args["Range"] = f"bytes={start}-"
        try:
            response = self._client.get_object(**args)
        except ClientError as exc:
            if _code(exc) in NOT_FOUND:
                raise BlobNotFound(self._sha256) from None
            raise
        if not start:
            self.size = response["ContentLength"]
        return response["Body"]

    def readable(self) -> bool:
        return True

    def seekable(self) -> bool:
        return True

    def tell(self) -> int:
        return self._pos

    def seek(self, offset: int, whence: int = io.SEEK_SET) -> int:
        if whence == io.SEEK_SET:
            target = offset
        elif whence == io.SEEK_CUR:
            target = self._pos + offset
        elif whence == io.SEEK_END:
            target = self.size + offset
        else:
            raise ValueError(f"invalid whence {whence}")
        if target < 0:
            raise ValueError("negative seek position")
        if target != self._pos:
            self._drop_body()
            self._pos = target
        return self._pos

    def readinto(self, buffer) -> int:
        wanted = min(len(buffer), self.size - self._pos)
        if wanted <= 0:
            return 0
        for attempt in (1, 2):
            if self._body is None:
                self._body = self._get(self._pos)
            try:
                data = self._body.read(wanted)
                break
            except STREAM_ERRORS:
                self._drop_body()
                if attempt == 2:
                    raise
        if not data:
            raise OSError(f"s3://{self._bucket}/{self._key} ended early at byte {self._pos} of {self.size}")
        count = len(data)
        memoryview(buffer)[:count] = data
        self._pos += count
        return count

    def _drop_body(self) -> None:
        if self._body is not None:
            self._body.close()
            self._body = None

    def close(self) -> None:
        self._drop_body()
        super().close()


def _code(exc: ClientError) -> str:
    return str(exc.response.get("Error", {}).get("Code", ""))
