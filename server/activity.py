"""How busy this process is with requests, so that its background worker can give way to them.

A phone on a weak signal waits for its upload's answer; a thumbnail can wait. The in-process worker
(sync.jobs.Worker) asks `quiet()` before each unit of work.
"""
from __future__ import annotations

import threading
import time

from werkzeug.wsgi import ClosingIterator


class RequestActivity:
    """WSGI middleware counting the requests in flight, and when the last one ended."""

    def __init__(self, quiet_seconds: float = 0.02):
        #: how long no request may have run before the process counts as quiet
        self.quiet_seconds = quiet_seconds
        self._lock = threading.Lock()
        self._in_flight = 0
        self._last_end = float("-inf")

    def wrap(self, wsgi_app):
        def counted(environ, start_response):
            self._enter()
            try:
                response = wsgi_app(environ, start_response)
            except BaseException:
                self._leave()
                raise
            # a streamed response (a photo) counts until the server has sent it and closed it
            return ClosingIterator(response, self._leave)
        return counted

    def quiet(self) -> bool:
        with self._lock:
            return self._in_flight == 0 and time.monotonic() - self._last_end >= self.quiet_seconds

    def _enter(self) -> None:
        with self._lock:
            self._in_flight += 1

    def _leave(self) -> None:
        with self._lock:
            self._in_flight -= 1
            self._last_end = time.monotonic()
