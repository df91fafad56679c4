"""How busy the server is with requests, so that background workers can give way to them.

A phone on a weak signal waits for its upload's answer; a thumbnail can wait. The in-process worker
(sync.jobs.Worker) asks `quiet()` before each unit of work.

Under gunicorn every worker process has its own background thread, and a phone's keep-alive connection stays
with one process: the others would see no requests of their own and take a core from the one serving it. So
besides its own requests a process also watches a clock that all processes of the server share (a small
memory-mapped file in the data dir), set whenever any of them begins or ends a request.
"""
from __future__ import annotations

import mmap
import os
import struct
import threading
import time
from pathlib import Path

from werkzeug.wsgi import ClosingIterator

_STAMP = struct.Struct("<q")


class SharedClock:
    """The monotonic time of the latest request start or end in any process of this server, in 8 bytes of a
    file every process maps. An aligned 8-byte store is atomic; the last writer wins, which is all we need."""

    def __init__(self, path: Path):
        path.parent.mkdir(parents=True, exist_ok=True)
        fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o600)
        try:
            if os.fstat(fd).st_size < _STAMP.size:
                os.ftruncate(fd, _STAMP.size)
            self._map = mmap.mmap(fd, _STAMP.size)
        finally:
            os.close(fd)

    def touch(self) -> None:
        _STAMP.pack_into(self._map, 0, time.monotonic_ns())

    def last(self) -> float:
        """Seconds on the monotonic clock; -inf when never set, or set before the machine last started (the
        monotonic clock restarts at boot, so such a stamp lies in the future)."""
        stamp = _STAMP.unpack_from(self._map, 0)[0] / 1e9
        return stamp if 0 < stamp <= time.monotonic() else float("-inf")


class RequestActivity:
    """WSGI middleware counting this process's requests in flight, and when the last one of any process ended."""

    def __init__(self, quiet_seconds: float = 0.02, shared: SharedClock | None = None):
        #: how long no request may have run before the server counts as quiet
        self.quiet_seconds = quiet_seconds
        self.shared = shared
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
            if self._in_flight:
                return False
            last = self._last_end
        if self.shared is not None:
            last = max(last, self.shared.last())
        return time.monotonic() - last >= self.quiet_seconds

    def _enter(self) -> None:
        with self._lock:
            self._in_flight += 1
        if self.shared is not None:
            self.shared.touch()

    def _leave(self) -> None:
        with self._lock:
            self._in_flight -= 1
            self._last_end = time.monotonic()
        if self.shared is not None:
            self.shared.touch()
