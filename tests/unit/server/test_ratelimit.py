"""The login rate limits' policy over both stores: the application's database (SQLite here, PostgreSQL when
ZOUFANG_TEST_DATABASE_URL is set) and Redis at 127.0.0.1:6379 under a key prefix of the test's own."""
import time
import uuid

import pytest

from server.counters import RedisCounters, SqlCounters
from server.db import make_engine
from server.errors import Problem
from server.ratelimit import LoginLimiter, LoginPolicy

REDIS_URL = "redis://127.0.0.1:6379/0"
SMALL = LoginPolicy(pair_failures=3, pair_window=60, address_failures=5, address_window=60, account_failures=6,
                    account_window=60)


def redis_or_skip(prefix: str) -> RedisCounters:
    counters = RedisCounters(REDIS_URL, prefix)
    try:
        counters.client.ping()
    except Exception as exc:  # noqa: BLE001 - whatever keeps Redis from answering
        pytest.skip(f"no Redis at {REDIS_URL}: {exc}")
    return counters


@pytest.fixture(params=["sql", "redis"])
def counters(request, database_url):
    if request.param == "sql":
        engine = make_engine(database_url)
        yield SqlCounters(engine)
        engine.dispose()
        return
    prefix = f"zoufang-test:{uuid.uuid4().hex}:"
    store = redis_or_skip(prefix)
    yield store
    keys = list(store.client.scan_iter(f"{prefix}*"))
    if keys:
        store.client.delete(*keys)
    store.client.close()


def fail(limiter: LoginLimiter, username: str, address: str, times: int = 1) -> None:
    for _ in range(times):
        limiter.failed(limiter.check(username, address))


def blocked(limiter: LoginLimiter, username: str, address: str) -> int | None:
    """Retry-After when the attempt is refused, None when it may go ahead."""
    try:
        limiter.check(username, address)
    except Problem as problem:
        assert problem.status == 429 and problem.code == "auth.too_many_attempts"
        return int(problem.headers["Retry-After"])
    return None


def test_a_pair_waits_after_its_failures_and_nobody_else_does(counters):
    limiter = LoginLimiter(counters, SMALL)
    fail(limiter, "zhang", "10.0.0.1", 2)
    assert blocked(limiter, "zhang", "10.0.0.1") is None
    fail(limiter, "zhang", "10.0.0.1")
    assert 0 < blocked(limiter, "zhang", "10.0.0.1") <= 60
    assert blocked(limiter, "zhang", "10.0.0.2") is None   # the same account from elsewhere
    assert blocked(limiter, "li", "10.0.0.1") is None      # another account from the same address


def test_spraying_names_from_one_address_is_limited(counters):
    limiter = LoginLimiter(counters, SMALL)
    for number in range(5):
        fail(limiter, f"user{number}", "10.0.0.9")
    assert blocked(limiter, "never-tried", "10.0.0.9") is not None
    assert blocked(limiter, "never-tried", "10.0.0.10") is None


def test_an_account_guessed_from_many_addresses_waits_except_where_it_logged_in_lately(counters):
    limiter = LoginLimiter(counters, SMALL)
    limiter.succeeded(limiter.check("zhang", "10.1.1.1"))  # the real user's phone
    for number in range(6):
        fail(limiter, "zhang", f"192.0.2.{number}")
    assert blocked(limiter, "zhang", "192.0.2.100") is not None   # the attacker's next address
    assert blocked(limiter, "zhang", "10.1.1.1") is None           # the phone goes on


def test_a_success_clears_its_pair_and_writes_nothing_when_nothing_changed(counters):
    limiter = LoginLimiter(counters, SMALL)
    fail(limiter, "zhang", "10.0.0.1", 2)
    limiter.succeeded(limiter.check("zhang", "10.0.0.1"))
    fail(limiter, "zhang", "10.0.0.1", 2)
    assert blocked(limiter, "zhang", "10.0.0.1") is None  # the count started again after the success

    writes = []
    for name in ("add", "put", "remove"):
        real = getattr(counters, name)
        setattr(counters, name, lambda *args, _real=real, _name=name: (writes.append(_name), _real(*args)))
    limiter.succeeded(limiter.check("li", "10.0.0.1"))
    assert writes == ["put"]  # a first success marks the address known
    writes.clear()
    limiter.succeeded(limiter.check("li", "10.0.0.1"))
    assert writes == []       # known, no failures: nothing to write


def test_counts_end_with_their_window(counters):
    limiter = LoginLimiter(counters, LoginPolicy(pair_failures=1, pair_window=1))
    fail(limiter, "zhang", "10.0.0.1")
    assert blocked(limiter, "zhang", "10.0.0.1") is not None
    time.sleep(2.1)
    assert blocked(limiter, "zhang", "10.0.0.1") is None
