"""What one app instance holds: settings, database engine and sessions, media store, credential cache,
login rate limits.

Kept in app.extensions so that tests can build several apps side by side.
"""
from __future__ import annotations

import dataclasses
from typing import TYPE_CHECKING

from flask import current_app, g
from sqlalchemy.engine import Engine
from sqlalchemy.orm import Session, sessionmaker

from media.store import SpooledUpload, Store
from server.activity import RequestActivity
from server.config import Settings
from server.passwords import CredentialCache
from server.ratelimit import LoginLimiter

if TYPE_CHECKING:  # sync imports server.db, which imports this package: only the names are needed here
    from sync.jobs import QueueSettings, Worker


@dataclasses.dataclass
class Runtime:
    settings: Settings
    engine: Engine
    sessions: sessionmaker[Session]
    store: Store
    credentials: CredentialCache
    queue: QueueSettings
    #: failed logins counted where every process sees them; None only in runtimes that serve no requests
    login_limiter: LoginLimiter | None = None
    #: requests in flight, for the worker to give way to
    activity: RequestActivity = dataclasses.field(default_factory=RequestActivity)
    #: the in-process reconcile worker, when this process runs one
    worker: Worker | None = None

    def wake_worker(self) -> None:
        if self.worker is not None:
            self.worker.wake()


def runtime() -> Runtime:
    return current_app.extensions["zoufang"]


def db() -> Session:
    """The request's session, opened on first use and closed at teardown; handlers commit once."""
    if "db" not in g:
        g.db = runtime().sessions()
    return g.db


def new_request_upload() -> SpooledUpload:
    """A temporary upload in the media store's folder, discarded at the end of the request unless a store
    took its file."""
    upload = runtime().store.new_upload()
    g.setdefault("uploads", []).append(upload)
    return upload


def close_db(_exc=None) -> None:
    session = g.pop("db", None)
    if session is not None:
        session.close()
