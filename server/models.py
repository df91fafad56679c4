"""Accounts: users with a role and the areas they may see, the device tokens they set phones up with, and their
browser sessions."""
from __future__ import annotations

import datetime as dt
from typing import Optional

from sqlalchemy import Boolean, CheckConstraint, ForeignKey, String
from sqlalchemy.orm import Mapped, mapped_column, relationship

from server.db import Base, UTCDateTime, utcnow

ROLES = ("admin", "supervisor", "cadre")


class User(Base):
    __tablename__ = "users"
    __table_args__ = (CheckConstraint("role IN ('admin','supervisor','cadre')", name="role_known"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    #: login name, also what Collect sends in Basic auth
    username: Mapped[str] = mapped_column(String(64), unique=True)
    #: name shown on pages
    display_name: Mapped[str] = mapped_column(String(100), default="")
    #: one of ROLES
    role: Mapped[str] = mapped_column(String(16))
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
