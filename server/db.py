"""The database: declarative Base, engine construction and the session factory.

Flask-free so that the domain packages (forms/, media/, sync/) can share the Base and sessions.
SQLite gets WAL mode and a busy timeout so that the embedded default serves concurrent readers and
one writer at a time without "database is locked" errors.
"""
from __future__ import annotations

import contextvars
import datetime as dt
from contextlib import contextmanager
from typing import Iterator

from sqlalchemy import DateTime, MetaData, create_engine, event
from sqlalchemy.engine import Engine
from sqlalchemy.orm import DeclarativeBase, Session, sessionmaker
from sqlalchemy.types import TypeDecorator

NAMING = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


class UTCDateTime(TypeDecorator):
    """Timestamps are stored in UTC and always come back timezone-aware (SQLite forgets the zone)."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value, dialect):
        if value is not None:
            if value.tzinfo is None:
                raise ValueError("naive datetime stored; use utcnow()")
            value = value.astimezone(dt.timezone.utc)
        return value

    def process_result_value(self, value, dialect):
        if value is not None and value.tzinfo is None:
            value = value.replace(tzinfo=dt.timezone.utc)
        return value


def utcnow() -> dt.datetime:
    return dt.datetime.now(dt.timezone.utc)


class Base(DeclarativeBase):
    metadata = MetaData(naming_convention=NAMING)


def _sqlite_pragmas(dbapi_connection, _record):
    # Hand transaction control to SQLAlchemy's "begin" event below instead of pysqlite's own.
    dbapi_connection.isolation_level = None
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA journal_mode=WAL")
    # FULL: a commit is on disk before the device is told 201 (NORMAL may lose the last commits on power loss)
    cursor.execute("PRAGMA synchronous=FULL")
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.execute("PRAGMA busy_timeout=30000")
    cursor.close()


_reading = contextvars.ContextVar("zoufang_reading", default=False)


@contextmanager
def reading() -> Iterator[None]:
    """Transactions begun inside only read. On SQLite they begin DEFERRED and so never wait for (or hold up)
    the one writer: WAL gives them a snapshot. Writing in such a transaction may fail with SQLITE_BUSY, so end
    it (commit) before writing."""
    token = _reading.set(True)
    try:
        yield
    finally:
        _reading.reset(token)


def _sqlite_begin(conn) -> None:
    # A deferred transaction that reads and then writes fails at once with SQLITE_BUSY when another process
    # wrote in between (busy_timeout cannot help there). Taking the write lock at BEGIN makes concurrent
    # writers from several gunicorn workers queue on busy_timeout instead; WAL readers are not blocked by it.
    conn.exec_driver_sql("BEGIN" if _reading.get() else "BEGIN IMMEDIATE")


def make_engine(url: str) -> Engine:
    if url.startswith("sqlite"):
        engine = create_engine(url, connect_args={"timeout": 30, "check_same_thread": False})
        event.listen(engine, "connect", _sqlite_pragmas)
        event.listen(engine, "begin", _sqlite_begin)
        return engine
    return create_engine(url, pool_pre_ping=True, pool_size=10, max_overflow=10)


def make_session_factory(engine: Engine) -> sessionmaker[Session]:
    return sessionmaker(bind=engine, expire_on_commit=False)


@contextmanager
def session_scope(factory: sessionmaker[Session]) -> Iterator[Session]:
    """One unit of work outside a request (CLI, worker): commit at the end or roll back and re-raise."""
    session = factory()
    try:
        yield session
        session.commit()
    except BaseException:
        session.rollback()
        raise
    finally:
        session.close()
