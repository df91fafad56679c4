"""Login rate limits: wrong passwords are counted where every process sees them (server/counters.py), so that
neither more gunicorn workers nor more hosts multiply what an attacker may try.

The policy (`LoginPolicy`), checked before a password is verified, counting failures only:

- per account and address: a few failures, then that pair waits — the usual forgotten-password case;
- per address, over every name: spraying one password over many names from one address waits;
- per account, over every address: a guess spread over many addresses waits too, except from an address the
  account logged in from successfully lately ("known"), so an attacker elsewhere cannot lock the real user out
  of their own phone or office.

A blocked attempt is refused with 429 and Retry-After without verifying anything. A successful login writes only
when it must (to clear its pair's failures, or to mark its address known again once a day).

Basic auth of a device whose password is in the credential cache (server/auth.py) does not read the store: it
would cost every submission a round trip. But a blocked guesser must not learn from a 200 that a guess matched
the cache, so each process remembers the keys it saw reach their limit (`suspect`); a remembered password from a
request that touches one of them is checked against the store first. That costs the real user a read per request
only while their account or address is under attack, and lets at most one guess per process slip past between
a limit being reached elsewhere and this process seeing it.
"""
from __future__ import annotations

import dataclasses
import hashlib
import threading
import time

from server.counters import Counters
from server.errors import Problem


@dataclasses.dataclass(frozen=True)
class LoginPolicy:
    #: failures of one account from one address, in seconds
    pair_failures: int = 5
    pair_window: int = 300
    #: failures from one address over every account name
    address_failures: int = 30
    address_window: int = 900
    #: failures of one account over every address (known addresses are spared)
    account_failures: int = 100
    account_window: int = 900
    #: how long an address stays known after a successful login, and how often a login renews that
    known_seconds: int = 30 * 86400
    known_renew_seconds: int = 86400


def _key(kind: str, *parts: str) -> str:
    # digests: no name or address in clear in the store, and a fixed length however long the name sent
    return f"{kind}:" + hashlib.sha256("\0".join(parts).encode("utf-8", "surrogatepass")).hexdigest()[:40]


@dataclasses.dataclass
class LoginAttempt:
    """One login's keys and what the store held for them when it was checked."""

    pair: str
    address: str
    account: str
    known: str
    readings: dict[str, tuple[int, int]]


class LoginLimiter:
    def __init__(self, counters: Counters, policy: LoginPolicy = LoginPolicy(), max_suspects: int = 100_000):
        self.counters = counters
        self.policy = policy
        self.max_suspects = max_suspects
        #: keys this process saw at their limit, and until when (Unix time)
        self._suspects: dict[str, float] = {}
        self._lock = threading.Lock()

    def suspect(self, username: str, address: str) -> bool:
        """Whether a remembered password must still be checked against the store; memory only, and nothing to
        compute until this process has seen a limit reached (then three short digests)."""
        if not self._suspects:
            return False
        now = time.time()
        keys = (_key("pair", username, address), _key("addr", address), _key("acct", username))
        return any(self._suspects.get(key, 0) > now for key in keys)

    def _note(self, attempt: LoginAttempt, readings: dict[str, tuple[int, int]]) -> list[tuple[str, int]]:
        """The limits `readings` show reached, as (key, seconds left); remembered as suspects."""
        policy = self.policy
        limits = [(attempt.pair, policy.pair_failures), (attempt.address, policy.address_failures),
                  (attempt.account, policy.account_failures)]
        reached = [(key, readings[key][1]) for key, most in limits if key in readings and readings[key][0] >= most]
        if reached:
            now = time.time()
            with self._lock:
                if len(self._suspects) >= self.max_suspects:
                    self._suspects = {k: t for k, t in self._suspects.items() if t > now}
                    if len(self._suspects) >= self.max_suspects:
                        self._suspects.clear()
                self._suspects.update((key, now + seconds) for key, seconds in reached)
        return reached

    def check(self, username: str, address: str) -> LoginAttempt:
        """One read; raises 429 (with Retry-After) when any limit that applies is reached."""
        attempt = LoginAttempt(_key("pair", username, address), _key("addr", address), _key("acct", username),
                               _key("known", username, address), {})
        attempt.readings = self.counters.read([attempt.pair, attempt.address, attempt.account, attempt.known])
        reached = self._note(attempt, attempt.readings)
        known = attempt.known in attempt.readings
        waits = [seconds for key, seconds in reached if not (known and key == attempt.account)]
        if waits:
            wait = max(waits)
            raise Problem(429, "auth.too_many_attempts", f"密码错误次数过多，请 {wait} 秒后再试。",
                          f"Too many wrong passwords; try again in {wait} seconds.",
                          headers={"Retry-After": str(wait)})
        return attempt

    def failed(self, attempt: LoginAttempt) -> None:
        policy = self.policy
        self._note(attempt, self.counters.add({attempt.pair: policy.pair_window,
                                               attempt.address: policy.address_window,
                                               attempt.account: policy.account_window}))

    def succeeded(self, attempt: LoginAttempt) -> None:
        if attempt.pair in attempt.readings:
            self.counters.remove([attempt.pair])
        known = attempt.readings.get(attempt.known)
        if known is None or known[1] < self.policy.known_seconds - self.policy.known_renew_seconds:
            self.counters.put(attempt.known, self.policy.known_seconds)
