"""Browser sessions end on the server: a cookie copied before logout, a password change or a deactivation opens
nothing afterwards, and devices (no cookie) never look a session up."""
import datetime as dt
import re

from sqlalchemy import select, update

from server import auth
from server.db import session_scope
from server.models import User, UserSession
from support import login, submission_xml


def saved_cookie(client) -> str:
    return client.get_cookie("session").value


def with_cookie(app, value):
    """A new browser that has only this session cookie, as an attacker who copied it would."""
    other = app.test_client()
    other.set_cookie("session", value)
    return other


def logged_in(client) -> bool:
    return client.get("/").status_code == 200


def csrf(client, path="/"):
    return re.search(r'name="csrf_token" value="([^"]+)"', client.get(path).get_data(as_text=True)).group(1)


def user_id(sessions, username):
    with session_scope(sessions) as session:
        return session.scalar(select(User.id).where(User.username == username))


def test_a_cookie_saved_before_logout_opens_nothing_after_it(app, client, admin):
    login(client, "admin")
    cookie = saved_cookie(client)
    assert logged_in(with_cookie(app, cookie))
    assert client.post("/logout", data={"csrf_token": csrf(client)}).status_code == 302
    copied = with_cookie(app, cookie)
    assert copied.get("/").status_code == 302
    assert copied.get("/api/v1/forms").status_code == 401
    login(client, "admin")  # logging in again is a new session
    assert logged_in(client)


def test_deactivating_a_user_ends_their_sessions_for_good(app, client, admin, sample_district, sessions):
    cadre = app.test_client()
    login(cadre, "cadre001")
    cookie = saved_cookie(cadre)
    login(client, "admin")
    target = user_id(sessions, "cadre001")
    for active in ("0", "1"):
        client.post(f"/admin/users/{target}/active", data={"active": active, "csrf_token": csrf(client, "/admin/users")})
    assert not logged_in(with_cookie(app, cookie))


def test_a_new_password_ends_the_users_sessions(app, client, admin, sample_district, sessions):
    cadre = app.test_client()
    login(cadre, "cadre001")
    cookie = saved_cookie(cadre)
    login(client, "admin")
    client.post(f"/admin/users/{user_id(sessions, 'cadre001')}/password",
                data={"password": "new-password-1", "csrf_token": csrf(client, "/admin/users")})
    assert not logged_in(with_cookie(app, cookie))
    with session_scope(sessions) as session:
        assert session.scalar(select(UserSession).where(UserSession.user_id == user_id(sessions, "cadre001"))
                              .where(UserSession.ended_at.is_(None))) is None


def test_a_session_older_than_the_cookie_lifetime_is_over(app, client, admin, sessions):
    login(client, "admin")
    with session_scope(sessions) as session:
        row = session.scalar(select(UserSession))
        row.created_at -= app.permanent_session_lifetime + dt.timedelta(minutes=1)
    assert not logged_in(client)


def test_a_cookie_signed_before_sessions_were_kept_opens_nothing(app, admin, sessions):
    with session_scope(sessions) as session:
        user = session.scalar(select(User).where(User.username == "admin"))
        marker = auth.password_marker(user)
    signer = app.session_interface.get_signing_serializer(app)
    old = signer.dumps({"user_id": user_id(sessions, "admin"), "pw": marker, "_permanent": True})
    assert not logged_in(with_cookie(app, old))


def test_devices_never_look_a_session_up(client, collect, monkeypatch):
    def refuse(*args, **kwargs):
        raise AssertionError("a request without a session cookie looked a session up")
    monkeypatch.setattr(auth, "live_session", refuse)
    assert client.get("/formList", headers=collect.headers).status_code == 200
    assert collect.submit(submission_xml()).status_code == 201
    assert client.get("/api/v1/forms", headers=collect.headers).status_code == 200


def test_a_session_is_seen_at_most_once_a_minute(client, admin, sessions):
    login(client, "admin")
    with session_scope(sessions) as session:
        first = session.scalar(select(UserSession.last_seen_at))
    assert logged_in(client) and logged_in(client)
    with session_scope(sessions) as session:
        assert session.scalar(select(UserSession.last_seen_at)) == first
        session.execute(update(UserSession).values(last_seen_at=first - dt.timedelta(minutes=2)))
    assert logged_in(client)
    with session_scope(sessions) as session:
        assert session.scalar(select(UserSession.last_seen_at)) > first - dt.timedelta(minutes=2)
