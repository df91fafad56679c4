"""Serving a stored blob over HTTP (server.media_http.send_blob) with ETag, Cache-Control and Range, for both
stores."""
import pytest
from flask import Flask, request

from media.store import Store
from server.errors import Problem
from server.media_http import send_blob

DATA = bytes(range(256)) * 400  # 102400 bytes


@pytest.fixture(params=["local", "s3"])
def store(request) -> Store:
    return request.getfixturevalue(f"{request.param}_store")


@pytest.fixture
def client(store):
    sha = store.put_bytes(DATA)
    app = Flask(__name__)

    @app.get("/")
    def blob():
        return send_blob(store, request.args.get("sha", sha), "image/jpeg", "房屋.jpg")

    @app.errorhandler(Problem)
    def problem(exc):
        return exc.code, exc.status

    client = app.test_client()
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
    assert response.headers["ETag"] == f'"{client.sha}-jpeg"'  # the content and the type it is served as
    assert response.headers["Content-Length"] == str(len(DATA))
    assert response.headers["Accept-Ranges"] == "bytes"
    assert "immutable" in response.headers["Cache-Control"]
    assert response.headers["Content-Disposition"] == "inline; filename*=UTF-8''%E6%88%BF%E5%B1%8B.jpg"


def test_range_request_gets_206_with_just_those_bytes(client):
    response = fetch(client, "/", headers={"Range": "bytes=1000-1999"})
    assert response.status_code == 206 and response.body == DATA[1000:2000]
    assert response.headers["Content-Range"] == f"bytes 1000-1999/{len(DATA)}"
    tail = fetch(client, "/", headers={"Range": "bytes=-10"})
    assert tail.status_code == 206 and tail.body == DATA[-10:]


def test_unsatisfiable_range_is_416(client):
    assert fetch(client, "/", headers={"Range": f"bytes={len(DATA) + 5}-"}).status_code == 416


def test_matching_etag_is_304_without_a_body(client):
    response = fetch(client, "/", headers={"If-None-Match": f'"{client.sha}-jpeg"'})
    assert response.status_code == 304 and response.body == b""


def test_missing_blob_is_404(client):
    response = fetch(client, "/?sha=" + "0" * 64)
    assert response.status_code == 404 and response.body == b"media.not_found"
