"""First start with no admin: the login page says so, and a one-time setup link (printed in the log) creates the
first admin once, only while none exists, and is audited."""
import logging
import re

import pytest
from sqlalchemy import func, select

from server.db import session_scope
from server.first_admin import announce, issue_link
from server.models import AuditEntry, SetupToken, User

ELSEWHERE = {"REMOTE_ADDR": "203.0.113.9"}


@pytest.fixture
def link(sessions):
    with session_scope(sessions) as session:
        return f"/setup/{issue_link(session)}"


def csrf(client, path):
    return re.search(r'name="csrf_token" value="([^"]+)"', client.get(path).get_data(as_text=True)).group(1)


def fill(client, link, **fields):
    data = {"username": "chief", "display_name": "王主任", "password": "chief-password-1",
            "password_repeat": "chief-password-1", "csrf_token": csrf(client, link)} | fields
    return client.post(link, data=data, environ_base=ELSEWHERE)


def admins(sessions):
    with session_scope(sessions) as session:
        return session.scalars(select(User.username).where(User.role == "admin")).all()


def test_login_page_says_how_to_create_the_first_admin_while_there_is_none(client, make_user):
    page = client.get("/login").get_data(as_text=True)
    assert "还没有管理员账号" in page and "users create" in page
    assert "No admin account yet" in client.get("/login?lang=en").get_data(as_text=True)
    make_user("cadre1")  # a cadre is not enough: nobody could create accounts
    assert "还没有管理员账号" in client.get("/login?lang=zh").get_data(as_text=True)
    make_user("boss", "admin")
    assert "还没有管理员账号" not in client.get("/login").get_data(as_text=True)


def test_start_without_admin_logs_a_setup_link_and_with_one_logs_nothing(app, make_user, caplog):
    rt = app.extensions["zoufang"]
    with caplog.at_level(logging.WARNING, logger="zoufang"):
        announce(rt, "http://127.0.0.1:8080")
    found = re.search(r"http://127\.0\.0\.1:8080(/setup/[A-Za-z0-9_-]{40,})", caplog.text)
    assert found and "users create" in caplog.text
    assert app.test_client().get(found.group(1)).status_code == 200
    caplog.clear()
    make_user("boss", "admin")
    with caplog.at_level(logging.WARNING, logger="zoufang"):
        announce(rt, "http://127.0.0.1:8080")
    assert "/setup/" not in caplog.text


def test_setup_link_creates_the_admin_logs_them_in_and_is_audited(client, sessions, link):
    page = client.get(link)
    assert page.status_code == 200 and "创建第一个管理员" in page.get_data(as_text=True)
    response = fill(client, link)
    assert response.status_code == 302 and response.headers["Location"] == "/"
    assert "王主任" in client.get("/").get_data(as_text=True)  # logged in as the new admin
    with session_scope(sessions) as session:
        user = session.scalar(select(User).where(User.username == "chief"))
        assert (user.role, user.display_name, user.active) == ("admin", "王主任", True)
        entry = session.scalar(select(AuditEntry).where(AuditEntry.action == "user.create"))
        assert (entry.actor, entry.actor_id, entry.address, entry.target) == ("chief", user.id, "203.0.113.9",
                                                                               "user:chief")
        assert entry.details == {"role": "admin", "display_name": "王主任", "from": "setup link"}
        assert "password" not in str(entry.details) and link.rsplit("/", 1)[1] not in str(entry.details)


def test_the_new_admin_logs_in_with_the_password_set(client, link):
    fill(client, link)
    client.post("/logout", data={"csrf_token": csrf(client, "/")})
    token = csrf(client, "/login")
    response = client.post("/login", data={"username": "chief", "password": "chief-password-1", "csrf_token": token})
    assert response.status_code == 302


def test_a_link_works_once_and_spends_every_other_open_link(client, sessions, link):
    with session_scope(sessions) as session:
        other = f"/setup/{issue_link(session)}"
    assert fill(client, link).status_code == 302
    for used in (link, other):
        response = client.get(used)
        assert response.status_code == 404
        assert "无效或已经用过" in response.get_data(as_text=True)
        assert client.post(used, data={"username": "second", "password": "x" * 12, "password_repeat": "x" * 12,
                                       "csrf_token": csrf(client, "/login")}).status_code == 404
    assert admins(sessions) == ["chief"]
    with session_scope(sessions) as session:
        assert session.scalar(select(func.count()).select_from(SetupToken).where(SetupToken.used_at.is_(None))) == 0


def test_a_link_is_void_once_an_admin_exists_another_way(client, make_user, sessions, link):
    make_user("boss", "admin")
    assert client.get(link).status_code == 404
    assert admins(sessions) == ["boss"]


def test_an_unknown_token_is_not_found(client, link):
    assert client.get("/setup/not-a-token").status_code == 404
    assert client.get(link + "x").status_code == 404


@pytest.mark.parametrize("fields, message", [
    ({"password": "short", "password_repeat": "short"}, "密码至少 8 个字符"),
    ({"password_repeat": "another-password"}, "两次输入的密码不一致"),
    ({"username": "has space"}, "不能含空格"),
    ({"username": ""}, "用户名不能为空"),
    ({"username": "cadre1"}, "用户名“cadre1”已被使用"),
])
def test_a_bad_form_is_shown_again_with_what_to_fix_and_creates_nobody(client, make_user, sessions, link, fields,
                                                                      message):
    make_user("cadre1")
    response = fill(client, link, **fields)
    assert response.status_code == 400
    page = response.get_data(as_text=True)
    assert message in page and 'value="王主任"' in page  # what was typed is kept (but never the password)
    assert "chief-password-1" not in page
    assert admins(sessions) == []
    assert client.get(link).status_code == 200  # the link is still open


def test_the_form_needs_its_csrf_token(client, sessions, link):
    client.get(link)
    response = client.post(link, data={"username": "chief", "password": "chief-password-1",
                                       "password_repeat": "chief-password-1"})
    assert response.status_code == 400
    assert admins(sessions) == []


def test_the_setup_page_in_english(client, link):
    page = client.get(link + "?lang=en").get_data(as_text=True)
    assert "Create the first admin" in page
    assert "Passwords do not match" in fill(client, link + "?lang=en",
                                            password_repeat="another-password").get_data(as_text=True)
