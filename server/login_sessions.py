"""Browser logins kept on the server: the signed cookie carries a random session id, and a session counts only
while its row is live. A signed cookie cannot be taken back, so without the row a cookie copied before logout
(or before a password change) would keep working for the cookie's whole life (31 days)."""
from __future__ import annotations

import datetime as dt
import hashlib
import secrets

from sqlalchemy import update
from sqlalchemy.orm import Session

from server.db import utcnow
from server.models import User, UserSession

#: how stale a session's "last seen" may get: a page view does not rewrite its row every time
SEEN_RESOLUTION = dt.timedelta(minutes=1)


def _key(session_id: str) -> str:
    return hashlib.sha256(session_id.encode("utf-8")).hexdigest()


def open_session(db: Session, user: User) -> str:
    """A new session for `user`; the id to put in the cookie (only its hash is stored)."""
    session_id = secrets.token_urlsafe(32)
    db.add(UserSession(id_sha256=_key(session_id), user_id=user.id))
    return session_id


def live_session(db: Session, session_id: str, lifetime: dt.timedelta) -> UserSession | None:
    """The session, when it was neither ended nor opened longer than `lifetime` ago; notes that it was seen."""
    row = db.get(UserSession, _key(session_id))
    now = utcnow()
    if row is None or row.ended_at is not None or row.created_at < now - lifetime:
        return None
    if now - row.last_seen_at >= SEEN_RESOLUTION:
        row.last_seen_at = now
        db.commit()
    return row


def end_session(db: Session, session_id: str) -> None:
    db.execute(update(UserSession).where(UserSession.id_sha256 == _key(session_id), UserSession.ended_at.is_(None))
               .values(ended_at=utcnow()))


def end_user_sessions(db: Session, user_id: int) -> None:
    """Every browser session of the user (a new password, a deactivated account)."""
    db.execute(update(UserSession).where(UserSession.user_id == user_id, UserSession.ended_at.is_(None))
               .values(ended_at=utcnow()))
