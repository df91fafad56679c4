"""`reconcile rebuild`: every household's record folded again from every submission's XML, at any size.

The households are cut into chunks of consecutive numbers, queued as jobs of their own (kind "rebuild").
Processes claim them with SELECT … FOR UPDATE SKIP LOCKED, and a chunk's work and its job's deletion commit
together, as the reconcile queue does (sync/jobs.py): several processes share the work (`--workers N`,
PostgreSQL), an interrupted rebuild resumes with the chunks still queued, and since a chunk is one short
transaction locking only its own households, the server goes on serving reads and submissions meanwhile.
The chunks are planned as the work goes, a few at a time, from a cursor kept in a job of its own (kind
"rebuild-plan"): the first chunk starts at once whatever the number of households (planned all at start, a
province's 1.2M took an estimated 15–40 s before it). When neither a chunk nor the cursor is left, a marker job
(kind "rebuild-finish") is taken away with the reconcile jobs the rebuild made unnecessary.

Every statement reads through an index, whatever the size of the database (issue 18; tests/api/test_query_plans.py
checks the plans on PostgreSQL): chunks are ranges of household numbers, and the submissions naming no known
household are found range by range, as those of the range naming none of the chunk's households.
"""
from __future__ import annotations

import dataclasses
import datetime as dt
import logging
import multiprocessing
import time
import traceback
from multiprocessing.connection import wait
from typing import Callable

from sqlalchemy import column, delete, func, insert, select, table, update
from sqlalchemy.orm import Session, sessionmaker

from server.db import session_scope, utcnow
from sync.coverage import clear_cache as clear_coverage_cache
from sync.jobs import QueueSettings
from sync.models import Household, Job, Submission
from sync.outside_reports import rebuild_reports
from sync.reconcile import reconcile_households
from sync.records import CoverageStale, Visit

log = logging.getLogger("zoufang.rebuild")

CHUNK, PLAN, FINISH = "rebuild", "rebuild-plan", "rebuild-finish"
#: chunks planned at once by a process that finds none queued: each is one index lookup, so planning stays short
PLAN_AHEAD = 4
#: households above which PostgreSQL's estimate of their number gives the progress bar its first total (counting
#: them reads the whole index); the total is exact once the last chunk is planned
ESTIMATE_ABOVE = 100_000
#: PostgreSQL advisory lock held while a rebuild is planned, so that two starting at once plan one
_PLAN_LOCK = 0x5A4F_5546_5245_4255


@dataclasses.dataclass
class Rebuilt:
    #: households whose record was rebuilt (by this run; a resumed rebuild counts what it did itself)
    households: int
    #: what was left out: submissions not readable or with values ignored (household, instance_id, reason), and
    #: households that could not be folded (household, reason), which keep their last record
    skipped: list[dict[str, str]]
    #: chunks not done: failed (kept as failed jobs, `reconcile retry-failed` queues them again) or whose process
    #: died; `reconcile rebuild` again resumes with them
    left: int = 0

    def add(self, other: "Rebuilt") -> None:
        self.households += other.households
        self.skipped += other.skipped


def rebuild(sessions: sessionmaker[Session], queue: QueueSettings,
            progress: Callable[[int, int], None] | None = None, batch: int = 500, workers: int = 1) -> Rebuilt:
    """Replay everything: re-read every submission's XML and recompute every household's record, `batch`
    households per transaction, in `workers` processes; or resume the rebuild under way. Nothing a submission
    says stops it: what it had to leave out is listed in the answer. `progress(done, total)` is told the
    households done so far, the rebuild's earlier runs included."""
    if workers > 1 and sessions.kw["bind"].dialect.name != "postgresql":
        raise ValueError("several rebuild workers need PostgreSQL (SQLite has one writer at a time)")
    start_rebuild(sessions, batch)

    reported = [0.0]

    def report(always: bool = False) -> None:  # once a second: what is left is a read of every chunk left
        if progress and (always or time.monotonic() - reported[0] >= 1) and (done := rebuild_progress(sessions)):
            reported[0] = time.monotonic()
            progress(*done)

    report(always=True)
    if workers == 1:
        rebuilt = run_chunks(sessions, queue, report)
    else:
        rebuilt = _in_processes(sessions, queue, workers, report)
    report(always=True)
    if not finish_rebuild(sessions):
        with session_scope(sessions) as session:
            rebuilt.left = _chunks_left(session)
    return rebuilt


def start_rebuild(sessions: sessionmaker[Session], batch: int = 500) -> bool:
    """Queue a rebuild's planning cursor and its marker, unless one is under way; True when a new one was started.
    The coverage cache is emptied with it: each chunk marks its visits' months to be counted again (requests count
    live until then), so that counts the visits no longer explain are forgotten too."""
    with session_scope(sessions) as session:
        if session.get_bind().dialect.name == "postgresql":
            session.execute(select(func.pg_advisory_xact_lock(_PLAN_LOCK)))
        if session.scalar(select(Job.id).where(Job.kind == FINISH).limit(1)) is not None:
            return False
        now = utcnow().isoformat()
        total, exact = _households(session)
        session.execute(insert(Job.__table__), [
            {"kind": PLAN, "payload": {"after": None, "started": False, "batch": batch, "planned": 0, "now": now}},
            {"kind": FINISH, "payload": {"households": total, "exact": exact, "now": now}}])
        clear_coverage_cache(session)
        log.info("rebuild started: %s%d households in chunks of %d", "" if exact else "about ", total, batch)
        return True


def _households(session: Session) -> tuple[int, bool]:
    """(how many households, whether that is exact): PostgreSQL's estimate when it says more than
    ESTIMATE_ABOVE, a count otherwise."""
    if session.get_bind().dialect.name == "postgresql":
        estimate = session.scalar(select(column("reltuples")).select_from(table("pg_class"))
                                  .where(column("oid") == func.to_regclass(Household.__tablename__)))
        if estimate is not None and estimate >= ESTIMATE_ABOVE:
            return int(estimate), False
    return session.scalar(select(func.count()).select_from(Household)), True


def _plan(session: Session, plan: dict, count: int) -> tuple[list[tuple[str | None, str | None, int]], dict | None]:
    """The next `count` chunks from the cursor `plan`, as (after, upto, households) for ranges after < number <=
    upto of `batch` households each, from the first household to the last, then one above the last (no household,
    but submissions naming unknown numbers there); and the cursor after them, None once the last is planned. The
    first chunk (after None) also takes the submissions naming no household. A boundary is one index lookup of
    `batch` entries: planning never sorts the table, and a call reads `count` × `batch` index entries."""
    after, started, batch = plan["after"], plan["started"], plan["batch"]
    chunks: list[tuple[str | None, str | None, int]] = []
    while len(chunks) < count:
        step = select(Household.number).order_by(Household.number).offset(batch - 1).limit(1)
        upto = session.scalar(step.where(Household.number > after) if started else step)
        if upto is None:
            rest = select(func.count(), func.max(Household.number))  # fewer than `batch`, whichever way read
            households, last = session.execute(rest.where(Household.number > after) if started else rest).one()
            if households:
                chunks.append((after, last, households))
                after = last
            chunks.append((after, None, 0))
            return chunks, None
        chunks.append((after, upto, batch))
        after, started = upto, True
    return chunks, {**plan, "after": after, "started": True}


def _plan_more(session: Session) -> bool | None:
    """Plan the next chunks, if the cursor is free: True when it did (the caller commits), None when another
    process holds the cursor, False when nothing is left to plan."""
    cursor = session.execute(select(Job.id, Job.payload).where(Job.kind == PLAN)
                             .with_for_update(skip_locked=True)).first()
    if cursor is None:
        return None if session.scalar(select(Job.id).where(Job.kind == PLAN).limit(1)) is not None else False
    chunks, following = _plan(session, cursor.payload, PLAN_AHEAD)
    session.execute(insert(Job.__table__), [{"kind": CHUNK, "payload": {"after": after, "upto": upto,
                                                                          "households": count,
                                                                          "now": cursor.payload["now"]}}
                                            for after, upto, count in chunks])
    planned = cursor.payload["planned"] + sum(count for _after, _upto, count in chunks)
    if following is None:
        session.execute(delete(Job).where(Job.id == cursor.id))
        marker = session.execute(select(Job.id, Job.payload).where(Job.kind == FINISH)).first()
        session.execute(update(Job).where(Job.id == marker.id).values(
            payload={**marker.payload, "households": planned, "exact": True}))
    else:
        session.execute(update(Job).where(Job.id == cursor.id).values(payload={**following, "planned": planned}))
    return True


def run_chunks(sessions: sessionmaker[Session], queue: QueueSettings,
               after_each: Callable[[], None] | None = None, limit: int | None = None) -> Rebuilt:
    """Claim and rebuild queued chunks until none is left (or `limit` are done). A chunk that fails is kept as
    a failed job with its error, and the others go on."""
    rebuilt, done = Rebuilt(0, []), 0
    while limit is None or done < limit:
        session = sessions()
        chunk = None
        try:
            chunk = session.execute(select(Job.id, Job.payload).where(Job.kind == CHUNK, Job.state == "queued")
                                    .order_by(Job.id).limit(1).with_for_update(skip_locked=True)).first()
            if chunk is None:
                planned = _plan_more(session)
                session.commit()
                if planned is False:
                    break
                if planned is None:  # another process is planning: its chunks are a moment away
                    time.sleep(0.05)
                continue
            rebuilt.add(_rebuild_chunk(session, chunk.payload, queue))
            session.execute(delete(Job).where(Job.id == chunk.id))
            session.commit()
        except Exception:
            session.rollback()
            if chunk is None:
                raise
            log.exception("rebuild chunk %s failed", chunk.payload)
            _fail(sessions, chunk.id, traceback.format_exc(limit=5))
        finally:
            session.close()
        done += 1
        if after_each:
            after_each()
    return rebuilt


def _rebuild_chunk(session: Session, chunk: dict, queue: QueueSettings) -> Rebuilt:
    now = dt.datetime.fromisoformat(chunk["now"])
    households = dict(session.execute(select(Household.id, Household.number)
                                      .where(*_in_chunk(Household.number, chunk))).all())
    _mark_unattached_in(session, chunk, list(households.values()), now)
    result = reconcile_households(session, households.values(), queue.options(now), reparse=True)
    if households:  # their months are counted again (by ids: a join on the range PostgreSQL may hash)
        counted = (select(Visit.area_id, Visit.month).distinct()
                   .where(Visit.household_id.in_(list(households)), Visit.month.is_not(None)))
        session.execute(insert(CoverageStale).from_select(["area_id", "month"], counted))
    skipped = result.skipped + [{"household": number, "instance_id": "", "reason": error.strip().splitlines()[-1]}
                                for number, error in result.failed.items()]
    return Rebuilt(len(result.households), skipped)


def _in_chunk(number, chunk: dict) -> list:
    """after < number <= upto, each bound when there is one (a bound is what lets the index be used)."""
    bounds = []
    if chunk["after"] is not None:
        bounds.append(number > chunk["after"])
    if chunk["upto"] is not None:
        bounds.append(number <= chunk["upto"])
    return bounds


def _mark_unattached_in(session: Session, chunk: dict, numbers: list[str], now: dt.datetime) -> None:
    """The chunk's submissions that name no household (first chunk) or a number in its range that is none of its
    households' (`numbers`) say so: read along the submissions' index on household_number over the range, never
    households. Only changes are written, as reconciled_at records when a submission reached its state."""
    if chunk["after"] is None:
        rebuild_reports(session, now)  # the reports of households outside the roster name none: kept as reports
        session.execute(update(Submission).where(Submission.household_number.is_(None),
                                                 Submission.reconcile_state.not_in(("no_household", "report")))
                        .values(reconcile_state="no_household", reconciled_at=now))
    unknown = [*_in_chunk(Submission.household_number, chunk), Submission.reconcile_state != "unknown_household"]
    if numbers:
        unknown.append(Submission.household_number.not_in(numbers))
    else:
        unknown.append(Submission.household_number.is_not(None))
    session.execute(update(Submission).where(*unknown).values(reconcile_state="unknown_household",
                                                              reconciled_at=now))


def _fail(sessions: sessionmaker[Session], job_id: int, error: str) -> None:
    with session_scope(sessions) as session:
        session.execute(update(Job).where(Job.id == job_id).values(
            state="failed", attempts=Job.attempts + 1, last_error=error[-4000:]))


def finish_rebuild(sessions: sessionmaker[Session]) -> bool:
    """When every chunk is done: take away the reconcile jobs the rebuild made unnecessary (due when it started;
    rechecks of held submissions stay queued for their time) and the rebuild's marker. True when no rebuild is
    under way any more."""
    with session_scope(sessions) as session:
        marker = session.execute(select(Job.id, Job.payload).where(Job.kind == FINISH).with_for_update()).first()
        if marker is None:
            return True
        if _chunks_left(session):
            return False
        started = dt.datetime.fromisoformat(marker.payload["now"])
        session.execute(delete(Job).where(Job.kind == "reconcile", Job.state == "queued", Job.run_after <= started))
        session.execute(delete(Job).where(Job.id == marker.id))
        return True


def _chunks_left(session: Session) -> int:
    """Chunks queued or failed, and the planning cursor while chunks are still to be planned."""
    return session.scalar(select(func.count()).select_from(Job).where(Job.kind.in_((CHUNK, PLAN))))


def rebuild_progress(sessions: sessionmaker[Session]) -> tuple[int, int] | None:
    """(households done, households in all) of the rebuild under way, None when there is none. Until the last
    chunk is planned, the total on a large PostgreSQL database is its estimate."""
    with session_scope(sessions) as session:
        marker = session.scalar(select(Job.payload).where(Job.kind == FINISH))
        if marker is None:
            return None
        total = marker["households"]
        left = 0
        for kind, payload in session.execute(select(Job.kind, Job.payload).where(Job.kind.in_((CHUNK, PLAN)))):
            # a queued chunk's households, and those the cursor has not reached yet
            left += payload["households"] if kind == CHUNK else max(total - payload["planned"], 0)
        return min(max(total - left, 0), total), total


def _in_processes(sessions: sessionmaker[Session], queue: QueueSettings, workers: int,
                  report: Callable[[], None]) -> Rebuilt:
    """Run the chunks in `workers` forked processes, reporting progress every second until they are done. A
    process that dies leaves its chunk queued (its transaction never commits) for the next run."""
    sessions.kw["bind"].dispose()  # no pooled connection may be shared with the children
    context = multiprocessing.get_context("fork")
    running = {}
    for _ in range(workers):
        receiver, sender = context.Pipe(duplex=False)
        process = context.Process(target=_child, args=(sessions, queue, sender), name="zoufang-rebuild")
        process.start()
        sender.close()
        running[receiver] = process
    rebuilt = Rebuilt(0, [])
    while running:
        for receiver in wait(list(running), timeout=1.0):
            try:
                rebuilt.add(receiver.recv())
            except EOFError:
                log.error("a rebuild process died; its chunk stays queued")
            running.pop(receiver).join()
        report()
    return rebuilt


def _child(sessions: sessionmaker[Session], queue: QueueSettings, sender) -> None:
    sessions.kw["bind"].dispose(close=False)  # the parent's connections, if any, stay the parent's
    sender.send(run_chunks(sessions, queue))
    sender.close()
