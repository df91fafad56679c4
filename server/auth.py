"""Who is calling: a device token in the URL, HTTP Basic credentials, a user's API token (Bearer), or a logged-in
browser session.

A bad token is 403 (a 401 would make Collect prompt for a password it does not have); missing or wrong
credentials are 401 with a Basic challenge, which is what Collect and Enketo answer with a login.
"""
from __future__ import annotations

import datetime as dt
import functools
import hashlib

from flask import current_app, g, request, session
from sqlalchemy import bindparam, or_, select, update

from server.csrf import csrf, protect_by_header
from server.db import utcnow
from server.db.prepared import DirectConnection, Prepared, direct_connection
from server.errors import Problem
from server.login_sessions import live_session
from server.models import ApiToken, Device, User
from server.runtime import db, runtime
from server.scope import AreaScope, scope_for

REALM = "Zoufang"


#: how stale a device's "last used" may get: a phone sending a batch does not rewrite its row for every form
DEVICE_USE_RESOLUTION = dt.timedelta(minutes=1)
#: API tokens start with this, so that one pasted where it does not belong is recognisable (and found by scanners)
API_TOKEN_PREFIX = "zf_"


class Principal:
    """The caller: a user, and the device token they came through if any.

    A device's user is loaded only when something asks for it: accepting a submission needs only the ids.
    """

    def __init__(self, user: User | None = None, device_id: int | None = None, user_id: int | None = None,
                 device_last_used_at: dt.datetime | None = None, role: str | None = None):
        if user is not None:
            self.__dict__["user"] = user  # already loaded: the cached property below need not load it again
        self.user_id = user.id if user is not None else user_id
        #: the user's role, read with the credentials (None: not read; `user.role` then)
        self.role = user.role if user is not None else role
        self.device_id = device_id
        #: when the device was last recorded as used, as read with its token
        self.device_last_used_at = device_last_used_at

    @functools.cached_property
    def user(self) -> User:
        return db().get(User, self.user_id)

    @functools.cached_property
    def scope(self) -> AreaScope:
        """The areas the caller may see, read on first use: a submission never needs it."""
        return scope_for(db(), self.user)


def token_sha256(token: str) -> str:
    return hashlib.sha256(token.encode("utf-8")).hexdigest()


def _challenge() -> Problem:
    return Problem(401, "auth.required", "需要登录：请输入用户名和密码。",
                   "Authentication required: give a user name and password.",
                   headers={"WWW-Authenticate": f'Basic realm="{REALM}", charset="UTF-8"'})


_DEVICES, _USERS = Device.__table__, User.__table__
# Devices send credentials with every request: these run on a pooled connection of their own
# (server/db/prepared.py)
_DEVICE_BY_TOKEN = Prepared(
    select(_DEVICES.c.id, _DEVICES.c.user_id, _DEVICES.c.last_used_at, _USERS.c.role)
    .join(_USERS, _DEVICES.c.user_id == _USERS.c.id)
    .where(_DEVICES.c.token_sha256 == bindparam("token_sha256"), _DEVICES.c.revoked_at.is_(None),
           _USERS.c.active.is_(True)))
_RECORD_USE = Prepared(update(_DEVICES).values(last_used_at=bindparam("now")).where(
    _DEVICES.c.id == bindparam("device_id"),
    or_(_DEVICES.c.last_used_at.is_(None), _DEVICES.c.last_used_at < bindparam("stale_before"))))


_TOKENS = ApiToken.__table__
_API_TOKEN = Prepared(
    select(_TOKENS.c.id, _TOKENS.c.user_id, _TOKENS.c.last_used_at)
    .join(_USERS, _TOKENS.c.user_id == _USERS.c.id)
    .where(_TOKENS.c.token_sha256 == bindparam("token_sha256"), _TOKENS.c.revoked_at.is_(None),
           _USERS.c.active.is_(True)))
_RECORD_TOKEN_USE = Prepared(update(_TOKENS).values(last_used_at=bindparam("now")).where(
    _TOKENS.c.id == bindparam("token_id"),
    or_(_TOKENS.c.last_used_at.is_(None), _TOKENS.c.last_used_at < bindparam("stale_before"))))

_USER_BY_NAME = Prepared(select(_USERS.c.id, _USERS.c.active, _USERS.c.password_hash).where(
    _USERS.c.username == bindparam("username")))
_ROLE_OF = Prepared(select(_USERS.c.role).where(_USERS.c.id == bindparam("user_id")))


def _read_one(statement: Prepared, values: dict):
    with direct_connection(runtime().engine) as connection, connection.transaction(write=False):
        return connection.first(statement, values)


def device_principal(token: str) -> Principal:
    """Reads only (see `record_device_use`)."""
    row = _read_one(_DEVICE_BY_TOKEN, {"token_sha256": token_sha256(token)})
    if row is None:  # unknown, revoked, or its user deactivated
        raise Problem(403, "auth.token_invalid", "设备令牌无效或已被撤销，请重新扫描二维码配置。",
                      "The device token is invalid or revoked; scan a new QR code to set the device up.")
    return Principal(device_id=row.id, user_id=row.user_id, device_last_used_at=row.last_used_at, role=row.role)


def record_device_use(connection: DirectConnection, principal: Principal) -> None:
    """Note that the device was used, for the devices page; at most once per DEVICE_USE_RESOLUTION (the
    statement is not even sent when the time read with the token is recent enough). Call it in a writing
    transaction."""
    now = utcnow()
    last = principal.device_last_used_at
    if principal.device_id is None or (last is not None and now - last < DEVICE_USE_RESOLUTION):
        return
    connection.execute(_RECORD_USE, {"now": now, "device_id": principal.device_id,
                                     "stale_before": now - DEVICE_USE_RESOLUTION})


def authenticate(username: str, password: str) -> int | None:
    """The user's id when the password is theirs, or None; Basic auth and the login page alike.

    A password the credential cache remembers is the whole check (devices send it with every request: no KDF,
    no rate-limit read, no write) unless this process saw a limit reached for the account or address (see
    server/ratelimit.py). Any other goes through the login rate limits first (429 when one is reached) and counts
    as a failure when wrong. Reads on connections of its own; the limiter writes in transactions of its own,
    which must outlast the request's rollback on a 401.
    """
    if "db" in g:  # nothing is written before authentication; on SQLite its transaction holds the write lock
        g.db.rollback()
    row = None if "\x00" in username else _read_one(_USER_BY_NAME, {"username": username})
    credentials, limiter, address = runtime().credentials, runtime().login_limiter, request.remote_addr or ""
    remembered = (row is not None and row.active and credentials.remembered(username, password, row.password_hash))
    if remembered and not limiter.suspect(username, address):
        return row.id
    attempt = limiter.check(username, address)
    if not remembered and (row is None or not row.active
                           or not credentials.verify(username, password, row.password_hash)):
        limiter.failed(attempt)
        return None
    limiter.succeeded(attempt)
    return row.id


def basic_principal() -> Principal | None:
    auth = request.authorization
    if auth is None or auth.type != "basic":
        return None
    user_id = authenticate(auth.username or "", auth.password or "")
    if user_id is None:
        raise Problem(401, "auth.failed", "用户名或密码错误。", "Wrong user name or password.",
                      headers=_challenge().headers)
    return Principal(user_id=user_id, role=_read_one(_ROLE_OF, {"user_id": user_id}).role)


def bearer_principal() -> Principal | None:
    """A script's `Authorization: Bearer <API token>`: the token's user, with their role and areas. Its use is
    noted at most once a minute, in a transaction of its own (the request may only read)."""
    auth = request.authorization
    if auth is None or auth.type != "bearer":
        return None
    row = _read_one(_API_TOKEN, {"token_sha256": token_sha256(auth.token or "")})
    if row is None:  # unknown, revoked, or its user deactivated
        raise Problem(401, "auth.api_token_invalid", "API 令牌无效或已被撤销。",
                      "The API token is invalid or revoked.",
                      headers={"WWW-Authenticate": f'Bearer realm="{REALM}", error="invalid_token"'})
    now = utcnow()
    if row.last_used_at is None or now - row.last_used_at >= DEVICE_USE_RESOLUTION:
        if "db" in g:  # on SQLite the request's own transaction must not hold the write lock meanwhile
            g.db.rollback()
        with direct_connection(runtime().engine) as connection, connection.transaction(write=True):
            connection.execute(_RECORD_TOKEN_USE, {"now": now, "token_id": row.id,
                                                   "stale_before": now - DEVICE_USE_RESOLUTION})
    return Principal(user_id=row.user_id)


def session_principal() -> Principal | None:
    """The logged-in user of a browser session that is still live on the server (server/login_sessions.py). A
    request without a session cookie (a device) costs no query."""
    session_id = session.get("sid")
    if session_id is None:
        return None
    row = live_session(db(), session_id, current_app.permanent_session_lifetime)
    user = db().get(User, row.user_id) if row is not None else None
    if user is None or not user.active or session.get("pw") != password_marker(user):
        session.clear()
        return None
    return Principal(user)


def password_marker(user: User) -> str:
    """Ties a browser session to the password it was opened with: changing the password logs out everywhere."""
    return hashlib.sha256((user.password_hash or "").encode()).hexdigest()[:16]


def require_device_or_basic() -> Principal:
    """OpenRosa: the URL's token when present, otherwise Basic credentials, otherwise the browser session of the web
    form (/fill, issue 20), which must echo the session's CSRF token in X-CSRF-Token to post a submission."""
    if "principal" not in g:
        token = g.get("device_token")
        principal = device_principal(token) if token is not None else basic_principal()
        if principal is None and token is None:
            principal = session_principal()
            if principal is not None:
                protect_by_header()
                g.db.rollback()  # on SQLite the session's read must not hold the lock the submission will take
        if principal is None and token is None and "X-CSRF-Token" in request.headers:
            # the web form's script, its session over: no Basic challenge, which would open the browser's own
            # (English) password box over the page; the submission stays queued in the phone
            raise Problem(401, "auth.session_expired", "登录已过期：请重新登录，表单仍保存在本机，登录后会自动发送。",
                          "The login has expired: log in again; the form stays on this phone and is sent after.")
        if principal is None:
            raise _challenge()
        g.principal = principal
    return g.principal


def require_api_user(*roles: str) -> Principal:
    """JSON API: a browser session, an API token (Bearer) or Basic credentials; optionally restricted to some roles.

    A page's script that changes something through the API with the session cookie must echo the session's
    CSRF token in X-CSRF-Token; scripts (Bearer or Basic) have no cookie to abuse and need none.
    """
    if "principal" not in g:
        # a token is explicit (no browser sends one on its own), so it wins over a session cookie sent alongside
        principal = bearer_principal()
        if principal is None:
            principal = session_principal()
            if principal is not None:
                csrf.protect()  # passes the safe methods (GET, HEAD, OPTIONS)
        principal = principal or basic_principal()
        if principal is None:
            raise _challenge()
        g.principal = principal
    if roles and g.principal.user.role not in roles:
        raise Problem(403, "auth.forbidden", "你的角色无权进行此操作。", "Your role may not do this.")
    return g.principal
