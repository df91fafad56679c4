"""Statements for the submission hot path, compiled once and run straight on the driver's connection.

Accepting a submission takes a handful of small statements. Through the ORM session each one cost more than the
database took to run it: a session transaction, a pool checkout, a begin event and Core's per-execution
set-up came to about 1 ms of CPU per transaction on a 2-core server, against ~30 µs for the same SQL on the
driver's own connection. A `Prepared` statement is still written with SQLAlchemy Core against the models'
tables, and compiled by SQLAlchemy for the engine's dialect; only the execution is direct. Values go through
the same type processors Core uses (`TypeEngine.bind_processor` / `result_processor` of the dialect's
implementation), and column defaults held in Python are filled in as Core fills them, so a row written here is
exactly the row Core would write, and the ORM reads it back the same way.

A `DirectConnection` runs prepared statements either inside an ORM session's transaction (`of_session`) or on
a connection of its own from the engine's pool (`direct_connection`), with writing transactions that begin as
the engine's do (on SQLite: BEGIN IMMEDIATE and the WAL sync of `server.db`).
"""
from __future__ import annotations

import collections
from contextlib import contextmanager
from typing import Any, Callable, Iterator, Sequence

from sqlalchemy.engine import Dialect, Engine
from sqlalchemy.orm import Session
from sqlalchemy.sql import ClauseElement
from sqlalchemy.sql.schema import CallableColumnDefault, ScalarElementColumnDefault

from server.db import begin_sqlite_write

#: a value to bind: the caller's, the statement's own literal, or a column default computed per execution
_Bind = tuple[str, Callable[[Any], Any] | None, str, Any]


class _Compiled:
    """One statement compiled for one dialect: its SQL, how to build its parameters, how to read its rows."""

    def __init__(self, statement: ClauseElement, dialect: Dialect):
        compiled = statement.compile(dialect=dialect)
        if getattr(compiled, "escaped_bind_names", None):
            raise ValueError(f"bind names that need escaping are not supported: {compiled.escaped_bind_names}")
        self.sql = str(compiled)
        self.positional = dialect.paramstyle in ("qmark", "numeric", "format")
        if self.positional and dialect.paramstyle != "qmark":
            raise ValueError(f"paramstyle {dialect.paramstyle} is not supported")
        prefetch = {column.key: column for column in getattr(compiled, "insert_prefetch", ())}
        names = compiled.positiontup if self.positional else list(compiled.binds)
        self.binds: list[_Bind] = [self._bind(name, compiled.binds[name], prefetch.get(name), dialect)
                                   for name in names]
        # a SELECT's columns, or an INSERT's RETURNING columns; their processors are chosen without the driver's
        # type code (None), on which only types like Numeric depend
        columns = list(getattr(statement, "exported_columns", ()))
        self.result_processors = [column.type.dialect_impl(dialect).result_processor(dialect, None)
                                  for column in columns]
        self.row = collections.namedtuple("Row", [column.key for column in columns]) if columns else None

    @staticmethod
    def _bind(name: str, bind, column, dialect: Dialect) -> _Bind:
        processor = bind.type.dialect_impl(dialect).bind_processor(dialect)
        if column is not None:
            default = column.default
            if isinstance(default, ScalarElementColumnDefault):
                return name, processor, "literal", default.arg
            if isinstance(default, CallableColumnDefault):
                return name, processor, "call", default.arg
            raise ValueError(f"column {column} has a default that a prepared statement cannot compute: {default!r}")
        if bind.callable is not None:
            raise ValueError(f"bind {name} has a callable value, which a prepared statement does not call")
        if bind.required:
            return name, processor, "param", None
        return name, processor, "literal", bind.value

    def parameters(self, values: dict[str, Any]) -> tuple | dict:
        out = []
        for name, processor, kind, default in self.binds:
            if kind == "param":
                value = values[name]
            elif name in values:
                value = values[name]
            else:
                value = default(None) if kind == "call" else default
            out.append(processor(value) if processor is not None else value)
        if self.positional:
            return tuple(out)
        return {bind[0]: value for bind, value in zip(self.binds, out)}

    def make_row(self, raw: Sequence) -> tuple:
        return self.row._make(value if processor is None else processor(value)
                              for processor, value in zip(self.result_processors, raw))


class Prepared:
    """A Core statement run through a `DirectConnection`, compiled on first use for each dialect."""

    def __init__(self, statement: ClauseElement):
        self.statement = statement
        self._compiled: dict[str, _Compiled] = {}

    def compiled(self, dialect: Dialect) -> _Compiled:
        key = f"{dialect.name}+{dialect.driver}"
        compiled = self._compiled.get(key)
        if compiled is None:
            compiled = self._compiled[key] = _Compiled(self.statement, dialect)
        return compiled


class DirectConnection:
    """A driver connection and its dialect, running `Prepared` statements."""

    def __init__(self, dbapi_connection, dialect: Dialect, database: str | None = None):
        self.dbapi_connection = dbapi_connection
        self.dialect = dialect
        #: the SQLite database file, for its WAL sync
        self.database = database

    @classmethod
    def of_session(cls, session: Session) -> DirectConnection:
        """The session's connection, inside the session's transaction (begun now if it has none)."""
        connection = session.connection()
        return cls(connection.connection.dbapi_connection, connection.dialect, connection.engine.url.database)

    def execute(self, statement: Prepared, values: dict[str, Any] | list[dict[str, Any]]) -> None:
        compiled = statement.compiled(self.dialect)
        cursor = self.dbapi_connection.cursor()
        try:
            if isinstance(values, list):
                if values:
                    cursor.executemany(compiled.sql, [compiled.parameters(v) for v in values])
            else:
                cursor.execute(compiled.sql, compiled.parameters(values))
        finally:
            cursor.close()

    def rows(self, statement: Prepared, values: dict[str, Any]) -> list[tuple]:
        compiled = statement.compiled(self.dialect)
        cursor = self.dbapi_connection.cursor()
        try:
            cursor.execute(compiled.sql, compiled.parameters(values))
            return [compiled.make_row(raw) for raw in cursor.fetchall()]
        finally:
            cursor.close()

    def first(self, statement: Prepared, values: dict[str, Any]) -> tuple | None:
        rows = self.rows(statement, values)
        return rows[0] if rows else None

    def scalar(self, statement: Prepared, values: dict[str, Any]) -> Any:
        row = self.first(statement, values)
        return row[0] if row is not None else None

    @contextmanager
    def transaction(self, write: bool) -> Iterator[DirectConnection]:
        """Commit at the end, roll back on an error. On SQLite a writing transaction queues for the write lock
        at BEGIN, as the engine's own transactions do; a reading one is no transaction at all: each statement
        reads its own snapshot (autocommit) and takes no lock, which is all a lookup by key needs."""
        if write and self.dialect.name == "sqlite":
            begin_sqlite_write(self.dbapi_connection, self.database or "")
        try:
            yield self
        except BaseException:
            self.dbapi_connection.rollback()
            raise
        self.dbapi_connection.commit()


@contextmanager
def direct_connection(engine: Engine) -> Iterator[DirectConnection]:
    """A connection of the engine's pool (set up by its connect events), returned to the pool at the end."""
    pooled = engine.raw_connection()
    try:
        yield DirectConnection(pooled.dbapi_connection, engine.dialect, engine.url.database)
    finally:
        pooled.close()
