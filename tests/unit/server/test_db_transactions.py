"""SQLite transactions: writers take the write lock at BEGIN, a DirectConnection's reading transactions take none."""
import sqlite3

import pytest
from sqlalchemy import text

from server.db import make_engine
from server.db.prepared import direct_connection


@pytest.fixture
def engine(tmp_path):
    engine = make_engine(f"sqlite:///{tmp_path / 'db.sqlite3'}")
    with engine.begin() as conn:
        conn.exec_driver_sql("CREATE TABLE t (x INTEGER)")
        conn.exec_driver_sql("INSERT INTO t VALUES (1)")
    yield engine
    engine.dispose()


def _other_writer(tmp_path):
    other = sqlite3.connect(tmp_path / "db.sqlite3", timeout=0, isolation_level=None)
    other.execute("BEGIN IMMEDIATE")
    other.execute("INSERT INTO t VALUES (2)")
    return other


def test_a_reading_transaction_neither_waits_for_nor_blocks_the_writer(engine, tmp_path):
    other = _other_writer(tmp_path)
    try:
        with direct_connection(engine) as conn, conn.transaction(write=False):
            assert conn.dbapi_connection.execute("SELECT count(*) FROM t").fetchone()[0] == 1  # committed snapshot
            other.execute("INSERT INTO t VALUES (3)")  # the writer goes on meanwhile
    finally:
        other.execute("COMMIT")
        other.close()


def test_an_ordinary_transaction_takes_the_write_lock_at_begin(engine, tmp_path):
    with engine.connect() as conn:
        with conn.begin():
            conn.execute(text("SELECT count(*) FROM t")).scalar()
            with pytest.raises(sqlite3.OperationalError, match="locked"):
                _other_writer(tmp_path)


def test_concurrent_writers_of_one_process_all_get_through(engine):
    import threading

    errors = []

    def write(worker):
        try:
            for i in range(40):
                with engine.begin() as conn:
                    conn.execute(text("INSERT INTO t VALUES (:x)"), {"x": worker * 1000 + i})
        except Exception as exc:  # noqa: BLE001 - collected for the assertion
            errors.append(exc)

    threads = [threading.Thread(target=write, args=(n,)) for n in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(60)
    assert errors == []
    with engine.connect() as conn:
        assert conn.execute(text("SELECT count(*) FROM t")).scalar() == 1 + 8 * 40


def test_a_rolled_back_or_failed_writer_leaves_the_write_lock_free(engine):
    import threading

    with engine.connect() as conn:
        with conn.begin():
            conn.execute(text("INSERT INTO t VALUES (5)"))
            raise_in = conn.begin_nested()
            raise_in.rollback()
        # committed: the lock is free again
    with pytest.raises(Exception):
        with engine.begin() as conn:
            conn.execute(text("INSERT INTO nowhere VALUES (1)"))
    done = threading.Event()

    def other():
        with engine.begin() as conn:
            conn.execute(text("INSERT INTO t VALUES (6)"))
        done.set()

    thread = threading.Thread(target=other)
    thread.start()
    assert done.wait(5), "the next writer waited: the write lock was kept"
    thread.join()


def test_sqlite_leaves_the_commit_unsynced_and_the_connection_syncs_the_wal(engine):
    with engine.connect() as conn:
        assert conn.exec_driver_sql("PRAGMA synchronous").scalar() == 1  # NORMAL: SQLite syncs only checkpoints


def test_a_write_commit_syncs_the_wal_after_releasing_the_lock(engine, tmp_path, monkeypatch):
    import os

    wal = str(tmp_path / "db.sqlite3-wal")
    seen = []  # (file synced, could another process take the write lock at that moment)
    real_fsync = os.fsync

    def fsync(fd):
        try:
            other = _other_writer(tmp_path)
            other.execute("ROLLBACK")
            other.close()
            free = True
        except sqlite3.OperationalError:
            free = False
        seen.append((os.readlink(f"/proc/self/fd/{fd}"), free))
        real_fsync(fd)

    monkeypatch.setattr(os, "fsync", fsync)
    with engine.begin() as conn:
        conn.execute(text("INSERT INTO t VALUES (7)"))
        assert seen == []
    assert seen == [(wal, True)]


def test_transactions_that_change_nothing_do_not_sync(engine, synced):
    with engine.begin() as conn:
        conn.execute(text("SELECT count(*) FROM t")).scalar()
    with direct_connection(engine) as conn, conn.transaction(write=False):
        conn.dbapi_connection.execute("SELECT count(*) FROM t").fetchone()
    with direct_connection(engine) as conn, conn.transaction(write=True):
        conn.dbapi_connection.execute("SELECT count(*) FROM t").fetchone()
    with pytest.raises(RuntimeError):
        with engine.begin() as conn:
            conn.execute(text("INSERT INTO t VALUES (8)"))
            raise RuntimeError("rolled back")
    assert synced == []
    with engine.connect() as conn:
        assert conn.execute(text("SELECT count(*) FROM t WHERE x = 8")).scalar() == 0
