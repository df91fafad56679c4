"""Static files under versioned URLs, kept by browsers for a year: /static/app.css?v=<digest of its content>.

Without it every page made a phone ask again for each stylesheet and script (a 304, but one round trip each,
seconds on a weak signal in the hills). A URL that names the content's digest never changes meaning, so it is
served `immutable` with a year's max-age; a changed file gets a new digest, hence a new URL. A request whose
`v` is not the current digest (a page cached before an upgrade) gets the file with the usual revalidation.
"""
from __future__ import annotations

import hashlib
import threading

from flask import Flask, Response, request
from werkzeug.security import safe_join

YEAR_SECONDS = 365 * 86400


class StaticVersions:
    """The digest of each static file, read once per process (the files change only with a new release)."""

    def __init__(self, folder: str):
        self.folder = folder
        self._digests: dict[str, str | None] = {}
        self._guard = threading.Lock()

    def of(self, filename: str) -> str | None:
        with self._guard:
            if filename not in self._digests:
                self._digests[filename] = self._read(filename)
            return self._digests[filename]

    def _read(self, filename: str) -> str | None:
        path = safe_join(self.folder, filename)
        try:
            with open(path, "rb") as content:
                return hashlib.sha256(content.read()).hexdigest()[:12]
        except (TypeError, OSError):  # outside the folder, or missing: no version, and the request 404s
            return None


def init_static_versions(app: Flask) -> None:
    versions = StaticVersions(app.static_folder)

    @app.url_defaults
    def _add_version(endpoint: str, values: dict) -> None:
        if endpoint == "static" and "v" not in values:
            digest = versions.of(values.get("filename", ""))
            if digest:
                values["v"] = digest

    @app.after_request
    def _cache_versioned(response: Response) -> Response:
        if (request.endpoint == "static" and response.status_code == 200
                and request.args.get("v") == versions.of(request.view_args.get("filename", ""))):
            response.cache_control.no_cache = None
            response.cache_control.public = True
            response.cache_control.max_age = YEAR_SECONDS
            response.cache_control.immutable = True
        return response
