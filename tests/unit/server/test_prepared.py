"""Prepared statements on the driver's connection write and read exactly what Core and the ORM do, on SQLite and
on PostgreSQL (the suite's database), and their transactions commit, roll back and lock as the engine's do."""
import datetime as dt
import sqlite3

import pytest
from sqlalchemy import bindparam, column, insert, select, table, update

from server.db import session_scope, utcnow
from server.db.prepared import DirectConnection, Prepared, direct_connection
from server.models import User
from sync.models import Job

JOBS = Job.__table__
USERS = User.__table__
#: only the caller's columns: state, attempts, run_after and created_at are the model's Python defaults
INSERT_JOB = Prepared(insert(JOBS).values({name: bindparam(name) for name in ("kind", "submission_id", "payload")}))
JOB_BY_KIND = Prepared(select(JOBS.c.id, JOBS.c.payload, JOBS.c.state, JOBS.c.attempts, JOBS.c.run_after,
                              JOBS.c.created_at.label("made")).where(JOBS.c.kind == bindparam("kind")))
INSERT_USER = Prepared(insert(USERS).values(username=bindparam("username"), role="cadre", password_hash=None)
                       .returning(USERS.c.id))
RENAME_USER = Prepared(update(USERS).values(display_name=bindparam("name")).where(USERS.c.id == bindparam("id")))


@pytest.fixture
def engine(app):
    return app.extensions["zoufang"].engine


def test_an_insert_fills_the_models_python_defaults_and_the_orm_reads_the_row_back(engine, sessions):
    before = utcnow()
    with direct_connection(engine) as connection, connection.transaction(write=True):
        connection.execute(INSERT_JOB, [{"kind": "prepared-test", "submission_id": None,
                                         "payload": {"filename": "门牌.jpg", "n": [1, 2]}}])
    with session_scope(sessions) as session:
        job = session.scalars(select(Job).where(Job.kind == "prepared-test")).one()
        assert job.payload == {"filename": "门牌.jpg", "n": [1, 2]}
        assert (job.state, job.attempts, job.last_error) == ("queued", 0, None)
        assert job.run_after.tzinfo is not None and before <= job.run_after <= utcnow()
        assert job.created_at.tzinfo is not None and before <= job.created_at <= utcnow()


def test_a_select_processes_its_columns_as_core_does(engine, sessions):
    when = dt.datetime(2026, 3, 1, 8, 30, 15, 123456, tzinfo=dt.timezone(dt.timedelta(hours=8)))
    with session_scope(sessions) as session:
        session.add(Job(kind="prepared-read", payload={"a": "户主"}, run_after=when))
    with direct_connection(engine) as connection, connection.transaction(write=False):
        row = connection.first(JOB_BY_KIND, {"kind": "prepared-read"})
        core = engine.connect()
        try:
            expected = core.execute(JOB_BY_KIND.statement, {"kind": "prepared-read"}).one()
        finally:
            core.close()
    assert tuple(row) == tuple(expected)
    assert row.payload == {"a": "户主"} and row.state == "queued"
    assert row.run_after == when and row.run_after.tzinfo is not None and row.made.tzinfo is not None
    assert connection.first(JOB_BY_KIND, {"kind": "nothing"}) is None


def test_returning_literal_values_and_an_update(engine, sessions):
    with direct_connection(engine) as connection:
        with connection.transaction(write=True):
            user_id = connection.scalar(INSERT_USER, {"username": "prepared-user"})
            connection.execute(RENAME_USER, {"name": "王 prepared", "id": user_id})
    assert isinstance(user_id, int)
    with session_scope(sessions) as session:
        user = session.get(User, user_id)
        assert (user.username, user.role, user.display_name, user.password_hash) == (
            "prepared-user", "cadre", "王 prepared", None)


def test_an_error_rolls_the_transaction_back_and_the_connection_stays_usable(engine, sessions):
    with direct_connection(engine) as connection:
        with pytest.raises(RuntimeError):
            with connection.transaction(write=True):
                connection.execute(INSERT_JOB, {"kind": "rolled-back", "submission_id": None, "payload": {}})
                raise RuntimeError("the request failed after the insert")
        with connection.transaction(write=True):
            connection.execute(INSERT_JOB, {"kind": "kept", "submission_id": None, "payload": {}})
    with session_scope(sessions) as session:
        kinds = set(session.scalars(select(Job.kind).where(Job.kind.in_(["rolled-back", "kept"]))))
    assert kinds == {"kept"}


def test_a_missing_value_is_an_error_not_a_null(engine):
    with direct_connection(engine) as connection, connection.transaction(write=False):
        with pytest.raises(KeyError, match="kind"):
            connection.first(JOB_BY_KIND, {})


def test_runs_inside_an_orm_sessions_transaction(sessions):
    session = sessions()
    try:
        DirectConnection.of_session(session).execute(
            INSERT_JOB, {"kind": "in-session", "submission_id": None, "payload": {}})
        session.rollback()
        assert session.scalar(select(Job.id).where(Job.kind == "in-session")) is None
        DirectConnection.of_session(session).execute(
            INSERT_JOB, {"kind": "in-session", "submission_id": None, "payload": {}})
        session.commit()
        assert session.scalar(select(Job.id).where(Job.kind == "in-session")) is not None
    finally:
        session.close()


def test_a_bind_with_a_callable_value_is_refused_when_compiled(engine):
    called = Prepared(select(table("t", column("x"))).where(column("x") == bindparam("x", callable_=lambda: 1)))
    with direct_connection(engine) as connection, pytest.raises(ValueError, match="callable"):
        connection.first(called, {})


def test_on_sqlite_a_reading_transaction_takes_no_lock_and_a_writing_one_waits_for_it(app, engine):
    if engine.dialect.name != "sqlite":
        pytest.skip("SQLite's locking")
    other = sqlite3.connect(engine.url.database, timeout=0, isolation_level=None)
    other.execute("BEGIN IMMEDIATE")
    try:
        with direct_connection(engine) as connection:
            with connection.transaction(write=False):
                assert connection.first(JOB_BY_KIND, {"kind": "x"}) is None
            connection.dbapi_connection.execute("PRAGMA busy_timeout=50")
            with pytest.raises(sqlite3.OperationalError, match="locked"):
                with connection.transaction(write=True):
                    pass
            connection.dbapi_connection.execute("PRAGMA busy_timeout=30000")
    finally:
        other.rollback()
        other.close()
    with direct_connection(engine) as connection, connection.transaction(write=True):
        connection.execute(INSERT_JOB, {"kind": "after-the-lock", "submission_id": None, "payload": {}})
