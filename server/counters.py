"""Fixed-window counters that every process sees: a table in the application's database (the default, nothing
more to run) or Redis (ZOUFANG_RATELIMIT_STORAGE=redis://…). The login rate limits (server/ratelimit.py) keep
their counts here.

A counter's window starts at its first count and lasts the window given then; when it has ended the counter
starts again from nothing. Both stores do the same with one round trip per call.
"""
from __future__ import annotations

import functools
import time
from typing import Iterable, Protocol

from sqlalchemy import bindparam, case, delete, select
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.engine import Engine

from server.db.prepared import Prepared, direct_connection
from server.errors import Problem
from server.models import RateLimitCounter

#: (count, seconds left in the window)
Reading = tuple[int, int]


class Counters(Protocol):
    def read(self, keys: list[str]) -> dict[str, Reading]:
        """The live counters among `keys` (ended or absent ones are left out)."""

    def add(self, windows: dict[str, int]) -> dict[str, Reading]:
        """Count one more for each key, in a window of so many seconds when it starts a new one; the new counts."""

    def put(self, key: str, seconds: int) -> None:
        """Set a key to 1 for so many seconds from now (a mark rather than a count)."""

    def remove(self, keys: Iterable[str]) -> None: ...


_TABLE = RateLimitCounter.__table__
#: the login check reads at most this many keys; fixed so that the statement is compiled once
READ_KEYS = 4
_READ = Prepared(select(_TABLE.c.key, _TABLE.c.count, _TABLE.c.expires_at).where(
    _TABLE.c.key.in_([bindparam(f"k{i}") for i in range(READ_KEYS)]), _TABLE.c.expires_at > bindparam("now")))


class SqlCounters:
    """In the application's database, table rate_limit_counters: an upsert per key, in one short transaction of
    its own (a failed login's request rolls its session back, the count must stay)."""

    def __init__(self, engine: Engine):
        self.engine = engine

    def read(self, keys: list[str]) -> dict[str, Reading]:
        if len(keys) > READ_KEYS:
            raise ValueError(f"at most {READ_KEYS} keys at a time")
        now = int(time.time())
        values = {f"k{i}": keys[i] if i < len(keys) else "" for i in range(READ_KEYS)} | {"now": now}
        with direct_connection(self.engine) as connection, connection.transaction(write=False):
            rows = connection.rows(_READ, values)
        return {key: (count, max(1, expires_at - now)) for key, count, expires_at in rows}

    def _upsert(self, key: str, seconds: int, now: int, count_up: bool):
        insert = (postgresql.insert if self.engine.dialect.name == "postgresql" else sqlite.insert)(_TABLE)
        statement = insert.values(key=key, count=1, expires_at=now + seconds)
        ended = _TABLE.c.expires_at <= now
        if not count_up:
            return statement.on_conflict_do_update(index_elements=[_TABLE.c.key], set_={
                "count": 1, "expires_at": statement.excluded.expires_at})
        return statement.on_conflict_do_update(index_elements=[_TABLE.c.key], set_={
            "count": case((ended, 1), else_=_TABLE.c.count + 1),
            "expires_at": case((ended, statement.excluded.expires_at), else_=_TABLE.c.expires_at)})

    def add(self, windows: dict[str, int]) -> dict[str, Reading]:
        now = int(time.time())
        out = {}
        with self.engine.begin() as connection:
            # failures are rare next to requests, and each one has just cost an argon2 check: sweeping the ended
            # rows here keeps the table as small as the live windows, however many names an attacker tries
            connection.execute(delete(_TABLE).where(_TABLE.c.expires_at <= now))
            for key, seconds in windows.items():
                count, expires_at = connection.execute(self._upsert(key, seconds, now, count_up=True).returning(
                    _TABLE.c.count, _TABLE.c.expires_at)).one()
                out[key] = (count, max(1, expires_at - now))
        return out

    def put(self, key: str, seconds: int) -> None:
        with self.engine.begin() as connection:
            connection.execute(self._upsert(key, seconds, int(time.time()), count_up=False))

    def remove(self, keys: Iterable[str]) -> None:
        with self.engine.begin() as connection:
            connection.execute(delete(_TABLE).where(_TABLE.c.key.in_(list(keys))))


def _unavailable_is_503(method):
    """A login that cannot be counted is refused rather than let through uncounted (that would lift the limits
    whenever Redis is down); the caller is told it is the server's trouble, and to try again shortly."""
    @functools.wraps(method)
    def guarded(self, *args, **kwargs):
        try:
            return method(self, *args, **kwargs)
        except self.errors as error:
            raise Problem(503, "auth.limits_unavailable", "登录计数服务暂时不可用，请稍后再试。",
                          "The login counting service is unavailable; try again shortly.",
                          headers={"Retry-After": "30"}) from error
    return guarded


class RedisCounters:
    """In Redis (7.0 or later): a key per counter with the window as its expiry, INCR then EXPIRE NX in one
    MULTI, so that a counter never lives on without an expiry."""

    def __init__(self, url: str, prefix: str):
        import redis  # only a deployment that configures Redis needs the client

        self.client = redis.Redis.from_url(url, socket_timeout=5, socket_connect_timeout=5)
        self.prefix = prefix
        self.errors = redis.RedisError

    @_unavailable_is_503
    def read(self, keys: list[str]) -> dict[str, Reading]:
        pipe = self.client.pipeline(transaction=False)
        for key in keys:
            pipe.get(self.prefix + key)
            pipe.pttl(self.prefix + key)
        answers = pipe.execute()
        out = {}
        for key, count, ttl_ms in zip(keys, answers[::2], answers[1::2]):
            if count is not None and ttl_ms > 0:
                out[key] = (int(count), max(1, -(-ttl_ms // 1000)))
        return out

    @_unavailable_is_503
    def add(self, windows: dict[str, int]) -> dict[str, Reading]:
        pipe = self.client.pipeline(transaction=True)
        for key, seconds in windows.items():
            pipe.incr(self.prefix + key)
            pipe.expire(self.prefix + key, seconds, nx=True)
            pipe.pttl(self.prefix + key)
        answers = pipe.execute()
        return {key: (int(count), max(1, -(-ttl_ms // 1000)))
                for key, count, ttl_ms in zip(windows, answers[::3], answers[2::3])}

    @_unavailable_is_503
    def put(self, key: str, seconds: int) -> None:
        self.client.set(self.prefix + key, 1, ex=seconds)

    @_unavailable_is_503
    def remove(self, keys: Iterable[str]) -> None:
        names = [self.prefix + key for key in keys]
        if names:
            self.client.delete(*names)


def counters_for(storage: str, prefix: str, engine: Engine) -> Counters:
    """ZOUFANG_RATELIMIT_STORAGE: empty for the database, or a redis:// (rediss://, unix://) URL."""
    if not storage:
        return SqlCounters(engine)
    if storage.startswith(("redis://", "rediss://", "unix://")):
        return RedisCounters(storage, prefix)
    raise ValueError(f"ZOUFANG_RATELIMIT_STORAGE must be empty or a redis:// URL, not {storage!r}")
