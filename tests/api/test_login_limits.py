"""Password guessing is limited across the login page and Basic auth (OpenRosa and the API), counted where
every process sees it; the real user from another address, and a device whose password is remembered, go on."""
import re
import socket
import uuid

import pytest

from server.app import create_app
from server.config import load_settings
from server.ratelimit import LoginPolicy
from support import basic

RIGHT = "secret-pass"
ELSEWHERE = {"REMOTE_ADDR": "198.51.100.7"}


def guess(client, path, username="admin", password="wrong-guess", **kwargs):
    return client.get(path, headers=basic(username, password), **kwargs)


def login_page(client, username, password, **kwargs):
    page = client.get("/login", **kwargs).get_data(as_text=True)
    token = re.search(r'name="csrf_token" value="([^"]+)"', page).group(1)
    return client.post("/login", data={"username": username, "password": password, "csrf_token": token}, **kwargs)


def test_thirty_wrong_basic_passwords_on_the_form_list_then_the_right_one_is_refused_with_429(client, admin):
    answers = [guess(client, "/formList").status_code for _ in range(30)]
    assert answers[:5] == [401] * 5 and set(answers[5:]) == {429}
    refused = guess(client, "/formList", password=RIGHT)
    assert refused.status_code == 429
    assert int(refused.headers["Retry-After"]) > 0
    assert refused.headers["X-OpenRosa-Version"] == "1.0"
    assert refused.content_type.startswith("text/xml") and "密码错误次数过多" in refused.get_data(as_text=True)


def test_basic_auth_on_the_api_is_limited_with_a_json_429(client, admin):
    for _ in range(5):
        assert guess(client, "/api/v1/forms").status_code == 401
    refused = guess(client, "/api/v1/forms", password=RIGHT)
    assert refused.status_code == 429 and int(refused.headers["Retry-After"]) > 0
    assert refused.get_json()["code"] == "auth.too_many_attempts"


def test_the_login_page_is_limited_too(client, admin):
    for _ in range(5):
        assert login_page(client, "admin", "wrong-guess").status_code == 401
    refused = login_page(client, "admin", RIGHT)
    assert refused.status_code == 429 and int(refused.headers["Retry-After"]) > 0
    page = refused.get_data(as_text=True)
    # the login page again, in words and minutes, with its form (issue 17, 13)
    assert re.search(r'data-testid="login-wait">密码错误次数过多，为保护账号暂停登录。请 \d+ 分钟后再试。<', page)
    assert 'name="password"' in page and "出错了" not in page


def test_failures_on_one_path_count_on_the_others(client, admin):
    for path in ("/formList", "/api/v1/forms", "/formList"):
        assert guess(client, path).status_code == 401
    for _ in range(2):
        assert login_page(client, "admin", "wrong-guess").status_code == 401
    assert guess(client, "/api/v1/forms", password=RIGHT).status_code == 429


def test_the_right_password_from_another_address_still_works(client, admin):
    for _ in range(6):
        guess(client, "/formList")
    assert guess(client, "/formList", password=RIGHT).status_code == 429
    assert guess(client, "/formList", password=RIGHT, environ_base=ELSEWHERE).status_code == 200
    assert guess(client, "/api/v1/forms", password=RIGHT, environ_base=ELSEWHERE).status_code == 200
    assert login_page(client, "admin", RIGHT, environ_base=ELSEWHERE).status_code == 302


def test_spraying_many_names_from_one_address_is_limited(client, admin):
    answers = [guess(client, "/formList", username=f"user{n}", password="Password1").status_code for n in range(40)]
    assert answers[:30] == [401] * 30 and set(answers[30:]) == {429}
    assert guess(client, "/formList", password=RIGHT, environ_base=ELSEWHERE).status_code == 200


def test_a_remembered_password_never_reads_the_limiter(app, client, admin):
    assert guess(client, "/formList", password=RIGHT).status_code == 200  # verified in full, now remembered
    limiter = app.extensions["zoufang"].login_limiter

    def no_store(*_args):
        raise AssertionError("the rate-limit store was used on a remembered password")

    limiter.counters.read = limiter.counters.add = limiter.counters.put = limiter.counters.remove = no_store
    for path in ("/formList", "/api/v1/forms", "/formList"):
        assert guess(client, path, password=RIGHT).status_code == 200


def test_an_account_guessed_from_many_addresses_spares_the_address_it_logged_in_from(app, client, admin):
    app.extensions["zoufang"].login_limiter.policy = LoginPolicy(account_failures=8)
    assert login_page(client, "admin", RIGHT).status_code == 302   # the real user, from 127.0.0.1
    for n in range(8):
        assert guess(client, "/formList", environ_base={"REMOTE_ADDR": f"192.0.2.{n}"}).status_code == 401
    assert guess(client, "/formList", password=RIGHT, environ_base={"REMOTE_ADDR": "192.0.2.99"}).status_code == 429
    assert guess(client, "/api/v1/forms", password=RIGHT).status_code == 200


@pytest.fixture
def second_app(tmp_path, database_url):
    """Another process on the same database: an app of its own, with its own memory."""
    app = create_app(load_settings(env={}, data_dir=tmp_path / "second", database_url=database_url,
                                   publish_bundled_forms=False, migrate_on_start=False, secret_key="test-secret",
                                   worker="off"))
    yield app
    app.extensions["zoufang"].engine.dispose()


def test_two_processes_on_one_database_share_the_count(client, second_app, admin):
    other = second_app.test_client()
    for target in (client, other, client, other, client):
        assert guess(target, "/formList").status_code == 401
    assert guess(other, "/formList", password=RIGHT).status_code == 429
    assert guess(client, "/formList", password=RIGHT).status_code == 429


@pytest.fixture
def redis_prefix():
    import redis
    prefix = f"zoufang-test:{uuid.uuid4().hex}:"
    client = redis.Redis.from_url("redis://127.0.0.1:6379/0")
    try:
        client.ping()
    except redis.RedisError as exc:
        pytest.skip(f"no Redis at 127.0.0.1:6379: {exc}")
    yield prefix, client
    keys = list(client.scan_iter(f"{prefix}*"))
    if keys:
        client.delete(*keys)
    client.close()


def test_with_redis_configured_the_counts_are_kept_in_redis(tmp_path, database_url, redis_prefix, make_user):
    prefix, redis_client = redis_prefix
    apps = [create_app(load_settings(
        env={"ZOUFANG_RATELIMIT_STORAGE": "redis://127.0.0.1:6379/0", "ZOUFANG_RATELIMIT_PREFIX": prefix},
        data_dir=tmp_path / name, database_url=database_url, publish_bundled_forms=False, migrate_on_start=False,
        secret_key="test-secret", worker="off")) for name in ("one", "two")]
    make_user("admin", "admin")
    clients = [app.test_client() for app in apps]
    for n in range(5):
        assert guess(clients[n % 2], "/formList").status_code == 401
    assert guess(clients[1], "/formList", password=RIGHT).status_code == 429
    assert any(redis_client.scan_iter(f"{prefix}pair:*"))
    assert guess(clients[0], "/formList", password=RIGHT, environ_base=ELSEWHERE).status_code == 200
    for app in apps:
        app.extensions["zoufang"].engine.dispose()


def test_with_redis_configured_but_unreachable_a_login_is_refused_with_503_not_let_through(
        tmp_path, database_url, make_user):
    with socket.socket() as probe:  # a port nobody listens on
        probe.bind(("127.0.0.1", 0))
        closed = probe.getsockname()[1]
    app = create_app(load_settings(
        env={"ZOUFANG_RATELIMIT_STORAGE": f"redis://127.0.0.1:{closed}/0"}, data_dir=tmp_path / "app",
        database_url=database_url, publish_bundled_forms=False, migrate_on_start=False, secret_key="test-secret",
        worker="off"))
    make_user("admin", "admin")
    client = app.test_client()
    refused = guess(client, "/formList")
    assert refused.status_code == 503 and refused.headers["Retry-After"] == "30"
    assert "登录计数服务暂时不可用" in refused.get_data(as_text=True)
    assert guess(client, "/formList", password=RIGHT).status_code == 503  # uncounted is never let through
    app.extensions["zoufang"].engine.dispose()


def test_a_blocked_guesser_learns_nothing_from_a_remembered_password(client, admin):
    assert guess(client, "/formList", password=RIGHT).status_code == 200  # the real device: now remembered
    for _ in range(5):
        assert guess(client, "/formList", environ_base=ELSEWHERE).status_code == 401
    assert guess(client, "/formList", password=RIGHT, environ_base=ELSEWHERE).status_code == 429
    assert guess(client, "/formList", password=RIGHT).status_code == 200  # the device's own address goes on
