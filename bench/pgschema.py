"""A PostgreSQL schema of the benchmark's own, selected with search_path and dropped at the end, so that a
benchmark never touches `public` (which the test suite and other people use)."""
from __future__ import annotations

import secrets
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

from sqlalchemy import create_engine, text


class PostgresSchema:
    def __init__(self, url: str, name: str | None = None):
        """A new schema; or, given a `name`, that schema, made if missing (a benchmark that keeps its data between
        runs)."""
        self.name = name or f"zoufang_bench_{secrets.token_hex(4)}"
        self.admin = create_engine(url)
        with self.admin.begin() as connection:
            connection.execute(text(f'CREATE SCHEMA {"IF NOT EXISTS " if name else ""}"{self.name}"'))
        parts = urlsplit(url)
        query = [(k, v) for k, v in parse_qsl(parts.query) if k != "options"]
        query.append(("options", f"-csearch_path={self.name}"))
        #: the URL to give the server: the same database, this schema first on the search path
        self.url = urlunsplit(parts._replace(query=urlencode(query)))

    def drop(self) -> None:
        with self.admin.begin() as connection:
            connection.execute(text(f'DROP SCHEMA IF EXISTS "{self.name}" CASCADE'))
        self.admin.dispose()
