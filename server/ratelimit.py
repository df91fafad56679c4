"""Login rate limiting: after a few wrong passwords for a name from an address, that pair waits a while.

In memory, per process: enough to make guessing slow (argon2 already costs each guess tens of milliseconds);
several gunicorn workers each keep their own count.
"""
from __future__ import annotations

import threading
import time
from collections import defaultdict, deque


class LoginLimiter:
    def __init__(self, max_failures: int = 5, window_seconds: float = 300.0, max_keys: int = 100_000):
        self.max_failures = max_failures
        self.window = window_seconds
        self.max_keys = max_keys
        self._failures: dict[tuple[str, str], deque[float]] = defaultdict(deque)
        self._lock = threading.Lock()

    def _recent(self, key: tuple[str, str], now: float) -> deque[float]:
        failures = self._failures[key]
        while failures and failures[0] <= now - self.window:
            failures.popleft()
        return failures

    def retry_after(self, address: str, username: str) -> int:
        """Seconds until this pair may try again; 0 when it may try now."""
        now = time.monotonic()
        with self._lock:
            failures = self._recent((address, username), now)
            if len(failures) < self.max_failures:
                return 0
            return max(1, int(failures[0] + self.window - now) + 1)

    def failed(self, address: str, username: str) -> None:
        with self._lock:
            if len(self._failures) > self.max_keys:
                self._failures.clear()
            self._recent((address, username), time.monotonic()).append(time.monotonic())

    def succeeded(self, address: str, username: str) -> None:
        with self._lock:
            self._failures.pop((address, username), None)
