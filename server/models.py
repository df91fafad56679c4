"""Accounts: users with a role and the areas they may see, the device tokens they set phones up with, the API tokens
their scripts use, and their browser sessions."""
from __future__ import annotations

import datetime as dt
from typing import Optional

from sqlalchemy import JSON, BigInteger, Boolean, CheckConstraint, ForeignKey, Index, Integer, String, select
from sqlalchemy.orm import Mapped, mapped_column, relationship

from server.db import Base, UTCDateTime, utcnow
from sync.visitor_roles import DUTIES, OTHER

#: finance (财务人员): area-scoped like a supervisor; reads the renovation ledger and enters its payments only
ROLES = ("admin", "supervisor", "cadre", "finance")
#: the roles that see the visits and the work they lead to (coverage, the map, duties, exits, monitoring, new-found
#: households, feedback, forms filled on the page, the visit exports) and send forms; finance staff see only the
#: renovation ledger and the household files (the top bar, server/pages/common.py: NAV)
VISIT_ROLES = ("admin", "supervisor", "cadre")


class User(Base):
    __tablename__ = "users"
    __table_args__ = (CheckConstraint("role IN ('admin','supervisor','cadre','finance')", name="role_known"),
                      CheckConstraint(f"duty IN ({','.join(repr(d) for d in DUTIES)})", name="duty_known"))

    id: Mapped[int] = mapped_column(primary_key=True)
    #: login name, also what Collect sends in Basic auth
    username: Mapped[str] = mapped_column(String(64), unique=True)
    #: name shown on pages
    display_name: Mapped[str] = mapped_column(String(100), default="")
    #: one of ROLES
    role: Mapped[str] = mapped_column(String(16))
    #: visiting duty role 走访身份, one of sync.visitor_roles.DUTIES: what the account's visits count for; each
    #: submission keeps the role it had when it was received (submissions.visitor_duty)
    duty: Mapped[str] = mapped_column(String(20), default=OTHER, server_default=OTHER)
    #: argon2id hash of the password; null for an account that only uses device tokens
    password_hash: Mapped[Optional[str]] = mapped_column(String(255))
    #: a disabled account can neither log in nor submit
    active: Mapped[bool] = mapped_column(Boolean, default=True)
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow)

    areas: Mapped[list["UserArea"]] = relationship(cascade="all, delete-orphan")
    devices: Mapped[list["Device"]] = relationship(back_populates="user")


class UserArea(Base):
    """An area (with everything under it) that a user may see and work in."""

    __tablename__ = "user_areas"

    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), primary_key=True)
    area_id: Mapped[int] = mapped_column(ForeignKey("areas.id"), primary_key=True)


class Device(Base):
    """A phone set up by QR code: it authenticates with a token in the server URL (/key/<token>/)."""

    __tablename__ = "devices"

    id: Mapped[int] = mapped_column(primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id"), index=True)
    #: sha256 of the token; the token itself is shown once in the QR code and never stored
    token_sha256: Mapped[str] = mapped_column(String(64), unique=True)
    #: a label such as "张三的手机"
    name: Mapped[str] = mapped_column(String(100), default="")
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow)
    last_used_at: Mapped[Optional[dt.datetime]] = mapped_column(UTCDateTime)
    revoked_at: Mapped[Optional[dt.datetime]] = mapped_column(UTCDateTime)

    user: Mapped[User] = relationship(back_populates="devices")


class ApiToken(Base):
    """A token a user made for their scripts (`Authorization: Bearer …`): it acts as that user, with their role and
    areas, until revoked or the account is deactivated."""

    __tablename__ = "api_tokens"

    id: Mapped[int] = mapped_column(primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), index=True)
    #: sha256 of the token; the token itself is shown once, when it is made, and never stored
    token_sha256: Mapped[str] = mapped_column(String(64), unique=True)
    #: the token's first characters, so that its owner can tell which one a script holds
    prefix: Mapped[str] = mapped_column(String(12))
    #: what the user said it is for, e.g. "月报脚本"
    name: Mapped[str] = mapped_column(String(100), default="")
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow)
    #: when a request last came with it, to the minute
    last_used_at: Mapped[Optional[dt.datetime]] = mapped_column(UTCDateTime)
    revoked_at: Mapped[Optional[dt.datetime]] = mapped_column(UTCDateTime)


class RateLimitCounter(Base):
    """A fixed-window count the login rate limits keep (server/ratelimit.py), shared by every process and host on
    this database; Redis holds the same counts instead when ZOUFANG_RATELIMIT_STORAGE names one. Expired rows are
    deleted as new failures are counted."""

    __tablename__ = "rate_limit_counters"

    #: what is counted, e.g. "pair:<digest of account and address>"; never a name or an address in clear
    key: Mapped[str] = mapped_column(String(80), primary_key=True)
    #: failures (or, for a known address, 1) in the current window
    count: Mapped[int] = mapped_column(Integer)
    #: Unix time (seconds) the window ends; a row past it counts as absent
    expires_at: Mapped[int] = mapped_column(BigInteger, index=True)


class AuditEntry(Base):
    """One privileged action, written in the same transaction as the action (server/audit.py). Append-only: the
    code has no path that changes or deletes a row, and on PostgreSQL a trigger refuses UPDATE and DELETE."""

    __tablename__ = "audit_log"
    __table_args__ = (Index("ix_audit_log_action_at", "action", "at"), Index("ix_audit_log_actor_at", "actor", "at"))

    id: Mapped[int] = mapped_column(primary_key=True)
    #: when it was done
    at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow, index=True)
    #: the authenticated account's user name at the time, or "cli" for the command line
    actor: Mapped[str] = mapped_column(String(64))
    #: that account's id; null for the command line
    actor_id: Mapped[Optional[int]] = mapped_column(ForeignKey("users.id"))
    #: the client's address as the server saw it (after ZOUFANG_BEHIND_PROXY); null for the command line
    address: Mapped[Optional[str]] = mapped_column(String(64))
    #: what was done, a stable code such as "user.create" (server/audit.py ACTIONS)
    action: Mapped[str] = mapped_column(String(40))
    #: what it was done to, e.g. "user:zhangsan", "form:household_visit", "household:2105040010010001"
    target: Mapped[str] = mapped_column(String(300))
    #: what changed, as JSON; never a password or a token
    details: Mapped[dict] = mapped_column(JSON, default=dict)


class UserSession(Base):
    """A browser's login. The signed cookie holds a random id whose hash is this row's key: the server can end a
    session (logout, a new password, a deactivated account) although the cookie itself stays valid to its end."""

    __tablename__ = "user_sessions"

    #: sha256 of the random session id in the cookie; a copy of this table opens no session
    id_sha256: Mapped[str] = mapped_column(String(64), primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), index=True)
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow)
    #: when a request last came with it, to the minute (not written on every page)
    last_seen_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow)
    #: when it was ended (logout, password change, deactivation); null while it is live
    ended_at: Mapped[Optional[dt.datetime]] = mapped_column(UTCDateTime)


class SetupToken(Base):
    """A one-time link to create the first admin, printed in the log when the server starts with no admin account
    (server/first_admin.py). It works only while no admin exists, and only once: creating the admin spends every
    link still open."""

    __tablename__ = "setup_tokens"

    #: sha256 of the token in the printed link; the token itself is only ever in the log
    token_sha256: Mapped[str] = mapped_column(String(64), primary_key=True)
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow)
    #: when an admin was created (with this link or another one); null while the link is open
    used_at: Mapped[Optional[dt.datetime]] = mapped_column(UTCDateTime)


class CollectApp(Base):
    """An ODK Collect APK an admin uploaded (Google Play is not reachable in China): the newest is what every
    devices page offers for download. Kept in the media store by content; older ones stay listed in the audit."""

    __tablename__ = "collect_apps"

    id: Mapped[int] = mapped_column(primary_key=True)
    #: as the admin gave it (e.g. v2024.3.5), shown next to the download
    version: Mapped[str] = mapped_column(String(40))
    filename: Mapped[str] = mapped_column(String(255))
    size: Mapped[int] = mapped_column(BigInteger)
    sha256: Mapped[str] = mapped_column(String(64))
    uploaded_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow)
    uploaded_by_id: Mapped[Optional[int]] = mapped_column(ForeignKey("users.id"))


def latest_collect_app(session) -> CollectApp | None:
    """The APK the devices pages offer: the newest upload."""
    return session.scalar(select(CollectApp).order_by(CollectApp.id.desc()).limit(1))
