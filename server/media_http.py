"""Serving stored files: ETag and immutable caching (content-addressed), Range for originals, any store.

Uploads come from phones and scripts we do not control, so a stored file is shown in the browser only as an
image type the server itself established; anything else is a download, and every answer is sandboxed, so that
even a file the browser did render could run nothing with the site's cookies.
"""
from __future__ import annotations

from urllib.parse import quote

from flask import Response, request
from werkzeug.datastructures import Headers
from werkzeug.wsgi import FileWrapper

from media.store import BlobNotFound, Store
from server.errors import Problem


#: no script, no plugin, no frame, a unique origin (the inline style is the browser's own, centring an image)
SANDBOX = "default-src 'none'; style-src 'unsafe-inline'; sandbox"


def send_blob(store: Store, sha256: str, image_type: str | None, filename: str, settled: bool = True) -> Response:
    """`image_type`: the image type the content was found to be (shown inline), or None (a download).
    `settled`: false while the photo waits for its check, which may turn the download into an image."""
    # The tag names the content and how it is served: once the check has made a download an image, a browser
    # that revalidates gets the image, not the download it cached.
    tag = f"{sha256}-{image_type.rsplit('/', 1)[1] if image_type else 'file'}"

    def headers() -> Headers:
        out = Headers()
        out.set("ETag", f'"{tag}"')
        # a content address never changes what it names; how it is served changes only until it is checked
        out.set("Cache-Control", "private, max-age=31536000, immutable" if settled else "private, no-cache")
        out.set("Content-Security-Policy", SANDBOX)
        return out

    if request.if_none_match.contains_weak(tag):
        return Response(status=304, headers=headers())
    try:
        blob = store.open(sha256)
    except BlobNotFound:
        raise Problem(404, "media.not_found", "文件不在存储中。", "The file is not in the media store.") from None
    try:
        # Werkzeug's FileWrapper can seek, so a Range request reads only its range
        response = Response(FileWrapper(blob, 64 * 1024), mimetype=image_type or "application/octet-stream",
                            headers=headers(), direct_passthrough=True)
        response.content_length = blob.size
        disposition = "inline" if image_type else "attachment"
        response.headers.set("Content-Disposition", f"{disposition}; filename*=UTF-8''{quote(filename)}")
        return response.make_conditional(request, accept_ranges=True, complete_length=blob.size)
    except BaseException:
        blob.close()
        raise
