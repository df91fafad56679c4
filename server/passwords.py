"""Password hashing (argon2id) and the short-lived proof that spares a device a full hash per request.

ODK Collect sends Basic credentials with every request. Verifying argon2id each time costs tens of
milliseconds of CPU and caps a server at a few submissions per second. After one successful verification we
keep, per user, an HMAC of (user, password, stored hash) under a key that exists only in this process's
memory, for a few minutes. A later request with the same password matches that HMAC in microseconds; a wrong
password never matches it and falls through to the full argon2 check. Nothing that could help recover the
password is written anywhere, the stored hash is not weakened, and changing the password (a new stored
hash) invalidates the proof at once.
"""
from __future__ import annotations

import hashlib
import hmac
import secrets
import threading
import time

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError, VerifyMismatchError

_hasher = PasswordHasher()
# each argon2id verification takes 64 MiB and a core for ~0.1 s: a burst of wrong passwords must queue, not
# multiply a worker's memory by its thread count
_verifications = threading.BoundedSemaphore(2)


def hash_password(password: str) -> str:
    return _hasher.hash(password)


def verify_password(password_hash: str | None, password: str) -> bool:
    if not password_hash:
        return False
    try:
        with _verifications:
            return _hasher.verify(password_hash, password)
    except (VerifyMismatchError, VerificationError, InvalidHashError):
        return False


class CredentialCache:
    def __init__(self, ttl_seconds: int, max_entries: int = 50_000):
        self.ttl = ttl_seconds
        self.max_entries = max_entries
        self._key = secrets.token_bytes(32)
        self._proofs: dict[str, tuple[bytes, float]] = {}
        self._lock = threading.Lock()

    def _proof(self, username: str, password: str, password_hash: str) -> bytes:
        message = "\0".join((username, password, password_hash)).encode("utf-8")
        return hmac.new(self._key, message, hashlib.sha256).digest()

    def remembered(self, username: str, password: str, password_hash: str | None) -> bool:
        """True when a fresh proof matches: this password was verified against this hash lately. Microseconds."""
        if not password_hash or self.ttl <= 0:
            return False
        entry = self._proofs.get(username)
        return bool(entry and entry[1] > time.monotonic()
                    and hmac.compare_digest(entry[0], self._proof(username, password, password_hash)))

    def verify(self, username: str, password: str, password_hash: str | None) -> bool:
        """True when the password matches the stored hash; argon2 runs only when no fresh proof matches."""
        if not password_hash:
            return False
        if self.remembered(username, password, password_hash):
            return True
        if not verify_password(password_hash, password):
            return False
        if self.ttl > 0:
            with self._lock:
                if len(self._proofs) >= self.max_entries:
                    self._proofs.clear()
                self._proofs[username] = (self._proof(username, password, password_hash), time.monotonic() + self.ttl)
        return True
