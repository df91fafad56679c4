"""Serving stored files: ETag and immutable caching (content-addressed), Range for originals, any store."""
from __future__ import annotations

from urllib.parse import quote

from flask import Response, request
from werkzeug.datastructures import Headers
from werkzeug.wsgi import FileWrapper

from media.store import BlobNotFound, Store
from server.errors import Problem


def send_blob(store: Store, sha256: str, mimetype: str | None, filename: str) -> Response:
    def headers() -> Headers:
        out = Headers()
        out.set("ETag", f'"{sha256}"')
        # a content address never changes what it names
        out.set("Cache-Control", "private, max-age=31536000, immutable")
        return out

    if request.if_none_match.contains_weak(sha256):
        return Response(status=304, headers=headers())
    try:
        blob = store.open(sha256)
    except BlobNotFound:
        raise Problem(404, "media.not_found", "文件不在存储中。", "The file is not in the media store.") from None
    try:
        # Werkzeug's FileWrapper can seek, so a Range request reads only its range
        response = Response(FileWrapper(blob, 64 * 1024), mimetype=mimetype or "application/octet-stream",
                            headers=headers(), direct_passthrough=True)
        response.content_length = blob.size
        response.headers.set("Content-Disposition", f"inline; filename*=UTF-8''{quote(filename)}")
        return response.make_conditional(request, accept_ranges=True, complete_length=blob.size)
    except BaseException:
        blob.close()
        raise
