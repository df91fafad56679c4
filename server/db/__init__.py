"""The database: declarative Base, engine construction and the session factory.

Flask-free so that the domain packages (forms/, media/, sync/) can share the Base and sessions.
SQLite gets WAL mode and a busy timeout so that the embedded default serves concurrent readers and
one writer at a time without "database is locked" errors.
"""
from __future__ import annotations

import datetime as dt
import os
import sqlite3
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
    # NORMAL: SQLite does not fsync the WAL at commit, so the write lock is not held through a disk flush.
    # `_SyncingConnection.commit` fsyncs the WAL itself once the lock is released, before the commit
    # returns: a commit is still on disk before a device is told 201, and concurrent writers share flushes.
    cursor.execute("PRAGMA synchronous=NORMAL")
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.execute("PRAGMA busy_timeout=30000")
    cursor.close()


class _SyncingConnection(sqlite3.Connection):
    """A pysqlite connection whose write commits reach the disk after the write lock is released.

    With synchronous=FULL the holder would keep the lock through an fsync of the WAL at every commit. Under
    synchronous=NORMAL SQLite leaves the WAL unsynced at commit (and stays consistent after a crash); this
    connection fsyncs the WAL itself after COMMIT, outside the lock, so the next writer works meanwhile and
    one flush covers every commit written before it. A WAL that is gone has been checkpointed into the
    database file, which SQLite syncs before it removes or restarts the WAL.
    """

    _wrote: str | None = None
    _changes_before = 0

    def writing(self, database: str) -> None:
        """A write transaction began on `database`: its commit syncs the WAL if it changed anything."""
        self._wrote = database
        self._changes_before = self.total_changes

    def commit(self) -> None:
        database, self._wrote = self._wrote, None
        super().commit()
        if database and self.total_changes != self._changes_before:
            _sync_wal(database)

    def rollback(self) -> None:
        self._wrote = None
        super().rollback()


#: an execution option: this connection only reads (exports), so on SQLite it takes no write lock at BEGIN
READ_ONLY = "zoufang_read_only"


def _sqlite_begin(conn) -> None:
    if conn.get_execution_options().get(READ_ONLY):
        # deferred: a long read (an export) must not hold the write lock and stop every submission meanwhile;
        # in WAL mode it reads one snapshot while writers go on
        conn.connection.dbapi_connection.execute("BEGIN")
        return
    begin_sqlite_write(conn.connection.dbapi_connection, conn.engine.url.database or "")


def begin_sqlite_write(dbapi_connection: _SyncingConnection, database: str) -> None:
    """Begin a transaction on one of the engine's SQLite connections, taking the write lock.

    A deferred transaction that reads and then writes fails at once with SQLITE_BUSY when another process
    wrote in between (busy_timeout cannot help there). Taking the write lock at BEGIN makes concurrent writers
    from several gunicorn workers queue instead; WAL readers are not blocked by it.
    """
    dbapi_connection.execute("BEGIN IMMEDIATE")
    if database and database != ":memory:":
        dbapi_connection.writing(database)


def _sync_wal(database: str) -> None:
    try:
        fd = os.open(database + "-wal", os.O_RDONLY)
    except FileNotFoundError:
        return
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def make_engine(url: str) -> Engine:
    if url.startswith("sqlite"):
        engine = create_engine(url, connect_args={"timeout": 30, "check_same_thread": False,
                                                  "factory": _SyncingConnection})
        event.listen(engine, "connect", _sqlite_pragmas)
        event.listen(engine, "begin", _sqlite_begin)
        return engine
    return create_engine(url, pool_pre_ping=True, pool_size=10, max_overflow=10)


def make_session_factory(engine: Engine) -> sessionmaker[Session]:
    return sessionmaker(bind=engine, expire_on_commit=False)


def reading_session(factory: sessionmaker[Session], engine: Engine) -> Session:
    """A session for a long read that writes nothing (an export): its transaction takes no write lock."""
    return factory(bind=engine.execution_options(**{READ_ONLY: True}))


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
