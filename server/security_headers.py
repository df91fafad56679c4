"""Headers every answer carries so that a browser runs only our own static scripts and never guesses a type.

Pages get a Content-Security-Policy that allows scripts, styles and images from this server only (no inline
script, no style attribute: the templates keep them in server/static), plus the map's tile server when one is
configured. Anything that is not a page gets a policy that allows nothing; stored uploads set their own, sandboxed
one (server/media_http.py).
"""
from __future__ import annotations

import re
from urllib.parse import urlsplit

from flask import Flask, Response

#: for any answer that is not a page: JSON, XML, CSV, files
NOTHING = "default-src 'none'; frame-ancestors 'none'"


def page_policy(tile_url: str, *more_images: str) -> str:
    """`more_images`: sources one page needs besides (the web form's `blob:`, for the photo it shows and resizes)."""
    images = " ".join(filter(None, ["'self'", "data:", *more_images, tile_source(tile_url)]))
    return (f"default-src 'self'; img-src {images}; object-src 'none'; frame-ancestors 'none'; "
            "base-uri 'self'; form-action 'self'")


def tile_source(tile_url: str) -> str | None:
    """The CSP source for a Leaflet tile URL template: `https://{s}.tile.example/{z}/{x}/{y}.png` →
    `https://*.tile.example`. A placeholder anywhere but the first label cannot be said in CSP: then the scheme."""
    parts = urlsplit(tile_url)
    if parts.scheme not in ("http", "https") or not parts.netloc:
        return None
    host = re.sub(r"^\{[^}]*\}\.", "*.", parts.netloc)
    return f"{parts.scheme}:" if "{" in host else f"{parts.scheme}://{host}"


def init_security_headers(app: Flask) -> None:
    @app.after_request
    def _security_headers(response: Response) -> Response:
        response.headers["X-Content-Type-Options"] = "nosniff"
        if "Content-Security-Policy" not in response.headers:
            response.headers["Content-Security-Policy"] = (
                page_policy(app.config.get("ZOUFANG_TILE_URL") or "") if response.mimetype == "text/html"
                else NOTHING)
        return response
