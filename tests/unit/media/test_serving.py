"""Serving a stored blob over HTTP with ETag, Cache-Control and Range, for both stores.

`send_blob` below is the code proposed for server/ (which alone may import Werkzeug and Flask); it is tested
here against LocalStore and S3Store so that the server can take it as it is.
"""
import pytest
from werkzeug.datastructures import Headers
from werkzeug.test import Client
from werkzeug.wrappers import Request, Response
from werkzeug.wsgi import FileWrapper

from media.store import BlobNotFound, Store

DATA = bytes(range(256)) * 400  # 102400 bytes


def send_blob(request: Request, store: Store, sha256: str, mimetype: str | None, filename: str) -> Response:
    """Proposed for server/: a stored blob as an immutable, cacheable, range-capable response."""
    def headers() -> Headers:
        out = Headers()
        out.set("ETag", f'"{sha256}"')
        out.set("Cache-Control", "private, max-age=31536000, immutable")
        return out

    if request.if_none_match.contains_weak(sha256):  # revalidation: no need to open the blob at all
        return Response(status=304, headers=headers())
    blob = store.open(sha256)  # BlobNotFound (a FileNotFoundError) → the caller's 404
    try:
        response = Response(FileWrapper(blob, 64 * 1024), mimetype=mimetype or "application/octet-stream",
                            headers=headers(), direct_passthrough=True)
        response.content_length = blob.size
        response.headers.set("Content-Disposition", "inline", filename=filename)
        # 206 with Content-Range for a satisfiable Range (seeks the blob), 416 raised for another
        return response.make_conditional(request, accept_ranges=True, complete_length=blob.size)
    except BaseException:
        blob.close()
        raise


@pytest.fixture(params=["local", "s3"])
def store(request) -> Store:
    return request.getfixturevalue(f"{request.param}_store")


@pytest.fixture
def client(store):
    sha = store.put_bytes(DATA)

    @Request.application
    def app(request):
        try:
            return send_blob(request, store, request.args.get("sha", sha), "image/jpeg", "house.jpg")
        except BlobNotFound:
            return Response("not found", status=404)

    client = Client(app)
    client.sha = sha
    return client


def fetch(client, path="/", **kwargs):
    """GET, read the body and close the response, as a WSGI server does (closing closes the blob)."""
    with client.get(path, **kwargs) as response:
        response.body = response.get_data()
    return response


def test_full_download_has_etag_length_and_immutable_caching(client):
    response = fetch(client, "/")
    assert response.status_code == 200 and response.body == DATA
    assert response.headers["ETag"] == f'"{client.sha}"'
    assert response.headers["Content-Length"] == str(len(DATA))
    assert response.headers["Accept-Ranges"] == "bytes"
    assert "immutable" in response.headers["Cache-Control"]


def test_range_request_gets_206_with_just_those_bytes(client):
    response = fetch(client, "/", headers={"Range": "bytes=1000-1999"})
    assert response.status_code == 206 and response.body == DATA[1000:2000]
    assert response.headers["Content-Range"] == f"bytes 1000-1999/{len(DATA)}"
    tail = fetch(client, "/", headers={"Range": "bytes=-10"})
    assert tail.status_code == 206 and tail.body == DATA[-10:]


def test_unsatisfiable_range_is_416(client):
    assert fetch(client, "/", headers={"Range": f"bytes={len(DATA) + 5}-"}).status_code == 416


def test_matching_etag_is_304_without_a_body(client):
    response = fetch(client, "/", headers={"If-None-Match": f'"{client.sha}"'})
    assert response.status_code == 304 and response.body == b""


def test_missing_blob_is_404(client):
    assert fetch(client, "/?sha=" + "0" * 64).status_code == 404
