"""Who is working the queue: each background worker's row (sync.models.WorkerActivity), counted in the
transaction of each batch it does, so that the count costs a statement and never a commit of its own; and the
line each batch logs in a `reconcile run` process, so that an operator can see it working."""
from __future__ import annotations

import dataclasses
import datetime as dt
import logging
import os
import socket
import time

from sqlalchemy import delete, func, select, update
from sqlalchemy.orm import Session, sessionmaker

from server.db import session_scope, utcnow
from sync.models import WorkerActivity

log = logging.getLogger("zoufang.worker")

#: a worker that has done nothing for this long has ended (its process was stopped or killed): its row goes when
#: the next worker starts
FORGET_AFTER = dt.timedelta(days=7)
#: rows the admin page shows, most recently active first
SHOWN = 50


def register_worker(sessions: sessionmaker[Session], kind: str) -> int:
    """A row for a starting worker ("thread" or "command"); the rows of workers long gone are removed."""
    now = utcnow()
    with session_scope(sessions) as session:
        session.execute(delete(WorkerActivity).where(
            func.coalesce(WorkerActivity.last_batch_at, WorkerActivity.started_at) < now - FORGET_AFTER))
        worker = WorkerActivity(host=socket.gethostname(), pid=os.getpid(), kind=kind, started_at=now,
                                reconciled=0, photos=0)
        session.add(worker)
        session.flush()
        return worker.id


def count_batch(session: Session, worker_id: int | None, reconciled: int = 0, photos: int = 0) -> None:
    """Count a batch in the batch's own transaction (nothing when the work is not a registered worker's)."""
    if worker_id is not None:
        session.execute(update(WorkerActivity).where(WorkerActivity.id == worker_id).values(
            last_batch_at=utcnow(), reconciled=WorkerActivity.reconciled + reconciled,
            photos=WorkerActivity.photos + photos))


def recent_workers(session: Session) -> list[WorkerActivity]:
    """The workers, most recently active first (those that never did a batch by when they started)."""
    return list(session.scalars(select(WorkerActivity).order_by(
        func.coalesce(WorkerActivity.last_batch_at, WorkerActivity.started_at).desc()).limit(SHOWN)))


@dataclasses.dataclass
class BatchLog:
    """One log line per batch: how many, how fast, and the totals since the worker started."""

    started: float = dataclasses.field(default_factory=time.monotonic)
    totals: dict[str, int] = dataclasses.field(default_factory=dict)

    def batch(self, what: str, count: int, seconds: float) -> None:
        total = self.totals[what] = self.totals.get(what, 0) + count
        elapsed = time.monotonic() - self.started
        log.info("%s %d in %.2f s (%.0f/s); %d since start (%.1f/s)", what, count, seconds,
                 count / max(seconds, 1e-6), total, total / max(elapsed, 1e-6))
