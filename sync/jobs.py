"""The reconcile queue: jobs rows written with the submission, claimed by workers, retried, never lost.

Several workers (threads in the web processes, `flask --app wsgi reconcile run` processes, other hosts) claim
jobs with SELECT … FOR UPDATE SKIP LOCKED on PostgreSQL, so no job is processed twice; the claim, the work and
the job's deletion commit together, so a worker that dies mid-way leaves its jobs to the others. (SQLite
serialises writers instead: its transactions take the write lock at BEGIN.) A job that fails is retried with
back-off and, after `max_attempts`, kept as failed with its error for an operator; its submission stays stored.
"""
from __future__ import annotations

import dataclasses
import datetime as dt
import logging
import os
import threading
import time
import traceback
from typing import Callable

from sqlalchemy import bindparam, delete, insert, select, update
from sqlalchemy.orm import Session, sessionmaker

from media.images import ImageLimits, process_image
from media.store import Store
from server.db import session_scope, utcnow
from sync.coverage import count_uncounted_once, refill_stale
from sync.feedback_state import answered_by, refresh_feedback, refresh_unset
from sync.models import Job, Submission, SubmissionAttachment
from sync.outside_reports import refresh_reports
from sync.reconcile import (ReconcileOptions, households_for_submissions, households_with_stale_records,
                            mark_unattached, reconcile_households)
from sync.rules import RulesConfig
from sync.workers import BatchLog, count_batch, register_worker

log = logging.getLogger("zoufang.worker")

#: how often a worker that gives way to requests looks again
GIVE_WAY_POLL_SECONDS = 0.01
#: the longest wait after rounds that failed in a row (the database down, a programming error): retried, but not
#: at the poll interval, which would fill the log with the same trace twice a second
MAX_FAILURE_WAIT_SECONDS = 60.0
#: the worker thread's nice value (0 normal, 19 lowest)
WORKER_NICE = 10


@dataclasses.dataclass(frozen=True)
class QueueSettings:
    rules: RulesConfig
    hold: dt.timedelta
    #: how far ahead of the server a phone's clock may be (ReconcileOptions.clock_skew)
    clock_skew: dt.timedelta = dt.timedelta(minutes=10)
    max_attempts: int = 5
    batch: int = 200
    #: size limits for the image checks
    image_limits: ImageLimits = ImageLimits()
    #: how long an image job is held by the worker that claimed it: the worker renews the lease every `heartbeat`
    #: while it works, so a live slow job keeps it however long it takes, and a killed worker's jobs go back to
    #: the others within seconds (a reconcile job needs none: its claim is a transaction, which dies with it)
    lease: dt.timedelta = dt.timedelta(seconds=20)
    heartbeat: dt.timedelta = dt.timedelta(seconds=5)
    #: photos claimed at once, and how long a round may spend on them before handing the rest back
    image_batch: int = 8
    image_budget: dt.timedelta = dt.timedelta(milliseconds=250)
    #: a round taken while requests are being served (the worker ran out of patience) is this small, so that it
    #: holds up uploads for tens of milliseconds, not the second a full batch of reconciles takes
    busy_batch: int = 16
    busy_image_batch: int = 2
    busy_image_budget: dt.timedelta = dt.timedelta(milliseconds=40)

    def busy_round(self) -> "QueueSettings":
        return dataclasses.replace(self, batch=self.busy_batch, image_batch=self.busy_image_batch,
                                   image_budget=self.busy_image_budget)

    def options(self, now: dt.datetime | None = None) -> ReconcileOptions:
        return ReconcileOptions(rules=self.rules, hold=self.hold, now=now or utcnow(), clock_skew=self.clock_skew)


def _claim(session: Session, limit: int, now: dt.datetime, only: list[int] | None = None):
    statement = (select(Job.id, Job.submission_id, Job.payload)
                 .where(Job.kind == "reconcile", Job.state == "queued", Job.run_after <= now)
                 .order_by(Job.id).limit(limit).with_for_update(skip_locked=True))
    if only is not None:
        statement = statement.where(Job.id.in_(only))
    return session.execute(statement).all()


def _work(session: Session, jobs, queue: QueueSettings, now: dt.datetime) -> None:
    submission_ids = [j.submission_id for j in jobs if j.submission_id is not None]
    # a report of a household outside the roster names none: kept as a report, not as an unattached submission
    reports = set(refresh_reports(session, submission_ids, now))
    mark_unattached(session, [i for i in submission_ids if i not in reports], now)
    numbers = households_for_submissions(session, submission_ids)
    for job in jobs:  # roster changes queue households directly
        numbers.update((job.payload or {}).get("households", []))
    failed = reconcile_households(session, numbers, queue.options(now)).failed
    # a new submission may answer what was returned to its sender (an edit of it, a new visit of the household)
    refresh_feedback(session, answered_by(session, submission_ids))
    # a household that could not be folded fails its own jobs at once (retrying the same data fails the same
    # way; `reconcile retry-failed` after a fix), the other households' records are written all the same
    stuck = _jobs_of(session, jobs, set(failed))
    done = [j.id for j in jobs if j.id not in stuck]
    touched = session.execute(delete(Job).where(Job.id.in_(done))).rowcount
    for job_id, number in stuck.items():
        touched += session.execute(update(Job).where(Job.id == job_id).values(
            state="failed", attempts=Job.attempts + 1, last_error=failed[number][-4000:])).rowcount
    if touched != len(jobs):  # another worker had them: never commit work done twice
        raise RuntimeError(f"claimed {len(jobs)} jobs but {touched} were still there")
    for job in jobs:
        payload = job.payload or {}
        if payload.get("rules") == queue.rules.digest and "part" in payload:
            # told from the job, not counted: a count of every record per batch grows with the province
            log.info("rules changed: refolded part %d of %d", payload["part"], payload["parts"])


def _jobs_of(session: Session, jobs, numbers: set[str]) -> dict[int, str]:
    """Job id → the failed household it is about, for the jobs about one of `numbers`."""
    if not numbers:
        return {}
    households = dict(session.execute(select(Submission.id, Submission.household_number).where(
        Submission.id.in_([j.submission_id for j in jobs if j.submission_id is not None]))).all())
    out = {}
    for job in jobs:
        about = [households.get(job.submission_id), *(job.payload or {}).get("households", [])]
        number = next((n for n in about if n in numbers), None)
        if number is not None:
            out[job.id] = number
    return out


def run_pending(sessions: sessionmaker[Session], queue: QueueSettings, worker_id: int | None = None) -> list[int]:
    """Process one batch of due jobs; returns the ids of the jobs done (empty when there was nothing to do). The
    batch is counted for `worker_id` (sync/workers.py) in its own transaction."""
    now = utcnow()
    session = sessions()
    jobs = []
    try:
        jobs = _claim(session, queue.batch, now)
        if not jobs:
            session.rollback()
            return []
        _work(session, jobs, queue, now)
        count_batch(session, worker_id, reconciled=len(jobs))
        session.commit()
        return [j.id for j in jobs]
    except Exception:
        session.rollback()
        if len(jobs) <= 1:
            _record_failure(sessions, [j.id for j in jobs], queue)
            return []
        log.warning("a batch of %d jobs failed; retrying them one at a time", len(jobs))
    finally:
        session.close()
    done = []
    for job in jobs:  # find the job that fails, let the others through
        session = sessions()
        try:
            claimed = _claim(session, 1, now, only=[job.id])
            if claimed:
                _work(session, claimed, queue, now)
                count_batch(session, worker_id, reconciled=1)
                session.commit()
                done.append(job.id)
        except Exception:
            session.rollback()
            _record_failure(sessions, [job.id], queue)
        finally:
            session.close()
    return done


def _record_failure(sessions: sessionmaker[Session], job_ids: list[int], queue: QueueSettings) -> None:
    error = traceback.format_exc(limit=5)
    log.error("reconcile job(s) %s failed:\n%s", job_ids, error)
    with session_scope(sessions) as session:
        for job in session.scalars(select(Job).where(Job.id.in_(job_ids))):
            job.attempts += 1
            job.last_error = error[-4000:]
            if job.attempts >= queue.max_attempts:
                job.state = "failed"
            else:
                job.state = "queued"
                job.run_after = utcnow() + dt.timedelta(seconds=min(3600, 2 ** job.attempts))


def run_until_idle(sessions: sessionmaker[Session], queue: QueueSettings, store: Store | None = None) -> int:
    """Everything due, reconcile and (given a store) image jobs, until nothing is left: for tests and `--once`."""
    done = 0
    while True:
        batch = run_pending(sessions, queue)
        if not batch:
            refill_coverage(sessions)
            batch = run_image_jobs(sessions, store, queue) if store else []
        if not batch:
            return done
        done += len(batch)


def refill_coverage(sessions: sessionmaker[Session]) -> int:
    """Count again the coverage months the reconciles marked stale, so that requests read them from the cache;
    returns how many (area, month) marks were taken."""
    with session_scope(sessions) as session:
        return refill_stale(session)


def run_image_jobs(sessions: sessionmaker[Session], store: Store, queue: QueueSettings,
                   worker_id: int | None = None) -> list[int]:
    """Check a few photos and make their thumbnails, outside any transaction; then have their visits judged
    again. Two short transactions for the lot: one claims them with a lease, one records what was found.
    Photos not reached within `queue.image_budget` are handed back for the next round."""
    now = utcnow()
    jobs, sources, lease_end = claim_image_jobs(sessions, queue, now)
    if not jobs:
        return []
    started, reports, failed = time.monotonic(), {}, []
    with LeaseHeartbeat(sessions, [j.id for j in jobs], lease_end, queue):
        for job in jobs:
            if reports and time.monotonic() - started > queue.image_budget.total_seconds():
                break
            source = sources.get(job.id)
            try:
                reports[job.id] = process_image(store, *source, queue.image_limits) if source else None
            except Exception:
                _record_failure(sessions, [job.id], queue)
                failed.append(job.id)
    with session_scope(sessions) as session:
        _record_image_reports(session, [j for j in jobs if j.id not in failed], reports, now)
        count_batch(session, worker_id, photos=len(reports))
        # a photo that failed for good no longer holds up its submission's reconcile; one that will be retried does
        _queue_reconcile_after_images(session, {j.submission_id for j in jobs if j.id in reports or j.id in failed})
    return list(reports)


def claim_image_jobs(sessions: sessionmaker[Session], queue: QueueSettings, now: dt.datetime):
    """Take up to `queue.image_batch` due photos with a lease: (jobs, their sources, the lease's end)."""
    lease_end = now + queue.lease
    with session_scope(sessions) as session:
        jobs = session.execute(select(Job.id, Job.submission_id, Job.payload).where(
            Job.kind == "image", Job.run_after <= now,
            (Job.state == "queued") | (Job.state == "running"))  # a running job whose lease ran out
            .order_by(Job.id).limit(queue.image_batch).with_for_update(skip_locked=True)).all()
        if not jobs:
            return [], {}, lease_end
        session.execute(update(Job).where(Job.id.in_([j.id for j in jobs]))
                        .values(state="running", run_after=lease_end))
        return jobs, _image_sources(session, jobs), lease_end


class LeaseHeartbeat(threading.Thread):
    """While the `with` block runs, renew the lease of the jobs claimed every `queue.heartbeat`. A round usually
    ends before the first beat, and then costs nothing.

    A renewal matches the lease this worker set (`run_after` equal to it): if this worker stalled past its lease
    and another took the jobs over, their new lease is not touched."""

    def __init__(self, sessions: sessionmaker[Session], job_ids: list[int], lease_end: dt.datetime,
                 queue: QueueSettings):
        super().__init__(name="zoufang-lease", daemon=True)
        self.sessions, self.job_ids, self.lease_end, self.queue = sessions, job_ids, lease_end, queue
        self._done = threading.Event()

    def __enter__(self) -> "LeaseHeartbeat":
        self.start()
        return self

    def __exit__(self, *_exc) -> None:
        self._done.set()
        self.join()

    def run(self) -> None:
        while not self._done.wait(self.queue.heartbeat.total_seconds()):
            renewed = utcnow() + self.queue.lease
            try:
                with session_scope(self.sessions) as session:
                    session.execute(update(Job).where(Job.id.in_(self.job_ids), Job.state == "running",
                                                      Job.run_after == self.lease_end).values(run_after=renewed))
                self.lease_end = renewed
            except Exception:  # the database may be restarting: the next beat tries again
                log.exception("could not renew the lease of image jobs %s", self.job_ids)


_ATTACHMENTS = SubmissionAttachment.__table__
_RECORD_IMAGE_CHECK = (
    update(_ATTACHMENTS)
    .where(_ATTACHMENTS.c.submission_id == bindparam("job_submission_id"),
           _ATTACHMENTS.c.filename == bindparam("job_filename"))
    .values(image_check=bindparam("image_check"), image_info=bindparam("image_info"),
            thumb_sha256=bindparam("thumb_sha256"), preview_sha256=bindparam("preview_sha256")))


def _record_image_reports(session: Session, jobs, reports: dict, now: dt.datetime) -> None:
    """What the checks found; jobs not reached go back."""
    checked = [(job, reports[job.id]) for job in jobs if job.id in reports and reports[job.id] is not None]
    if checked:
        session.connection().execute(_RECORD_IMAGE_CHECK, [
            {"job_submission_id": job.submission_id, "job_filename": job.payload.get("filename"),
             "image_check": report.check.reason or "ok", "image_info": report.check.as_dict(),
             "thumb_sha256": report.derivatives.get("thumb"), "preview_sha256": report.derivatives.get("preview")}
            for job, report in checked])
    done = [job.id for job in jobs if job.id in reports]
    handed_back = [job.id for job in jobs if job.id not in reports]
    if done:
        session.execute(delete(Job).where(Job.id.in_(done)))
    if handed_back:
        session.execute(update(Job).where(Job.id.in_(handed_back)).values(state="queued", run_after=now))


def _queue_reconcile_after_images(session: Session, submission_ids: set[int]) -> None:
    """One reconcile per submission once its last photo is checked, not one per photo: a submission with N photos
    is judged again once, whether its photos were checked in one round or several, by one worker or many.

    The submissions' rows are locked first, so that two workers finishing a submission's last two photos at the
    same time take turns, and the second sees the first's photo done (READ COMMITTED reads anew per statement)
    and queues the reconcile. A queued reconcile of the submission makes a new one unnecessary, unless a worker
    has claimed it already (SKIP LOCKED hides it): that one may have read the photos before this check committed."""
    if not submission_ids:
        return
    ids = sorted(submission_ids)
    session.execute(select(Submission.id).where(Submission.id.in_(ids)).order_by(Submission.id).with_for_update())
    pending = set(session.scalars(select(Job.submission_id).where(
        Job.kind == "image", Job.submission_id.in_(ids), Job.state.in_(("queued", "running")))))
    ready = [sid for sid in ids if sid not in pending]
    if not ready:
        return
    queued = set(session.scalars(select(Job.submission_id).where(
        Job.kind == "reconcile", Job.submission_id.in_(ready), Job.state == "queued")
        .with_for_update(skip_locked=True)))
    missing = [sid for sid in ready if sid not in queued]
    if missing:
        session.execute(insert(Job.__table__), [
            {"kind": "reconcile", "submission_id": sid, "payload": {"images": True}} for sid in missing])


def _image_sources(session: Session, jobs) -> dict[int, tuple[str, str, str | None]]:
    """Job id → (sha256, file name, content type) of the attachment it is about, when it has arrived."""
    wanted = {(j.submission_id, j.payload.get("filename")): j.id for j in jobs}
    rows = session.execute(select(SubmissionAttachment.submission_id, SubmissionAttachment.filename,
                                  SubmissionAttachment.sha256, SubmissionAttachment.content_type)
                           .where(SubmissionAttachment.submission_id.in_({j.submission_id for j in jobs}),
                                  SubmissionAttachment.sha256.is_not(None)))
    return {wanted[(r.submission_id, r.filename)]: (r.sha256, r.filename, r.content_type)
            for r in rows if (r.submission_id, r.filename) in wanted}


def queue_start_work(sessions: sessionmaker[Session], queue: QueueSettings) -> None:
    """What a starting worker finds to do: coverage months the cache has no count of, returned submissions whose
    feedback state is not kept yet, records folded with other rules."""
    with session_scope(sessions) as session:
        if count_uncounted_once(session):
            log.info("coverage: every month with a visit marked to be counted (the cache's format changed)")
    with session_scope(sessions) as session:
        refresh_unset(session)
    queue_refolds(sessions, queue)


def queue_refolds(sessions: sessionmaker[Session], queue: QueueSettings) -> int:
    """Queue in the background the refold of every household whose record was folded with other rules than
    these (a changed ZOUFANG_RULES_FILE), in reconcile jobs of `queue.batch` households, so that a changed
    threshold applies without `reconcile rebuild`; a household that cannot be folded fails its own job's part
    as any reconcile does. Returns how many households were queued; none when their refold is queued already
    (another worker started first, or the previous start's jobs are not all done)."""
    digest = queue.rules.digest
    with session_scope(sessions) as session:
        queued = [payload for payload in session.scalars(select(Job.payload).where(
            Job.kind == "reconcile", Job.submission_id.is_(None), Job.state == "queued"))
            if (payload or {}).get("rules") == digest]
        if queued:
            return 0
        numbers = households_with_stale_records(session, digest)
        if numbers:
            starts = range(0, len(numbers), queue.batch)
            session.execute(insert(Job.__table__), [
                {"kind": "reconcile", "payload": {"households": numbers[start:start + queue.batch], "rules": digest,
                                                  "part": part, "parts": len(starts)}}
                for part, start in enumerate(starts, 1)])
            log.info("rules changed: %d households to refold in the background", len(numbers))
        return len(numbers)


def retry_failed(sessions: sessionmaker[Session]) -> int:
    with session_scope(sessions) as session:
        result = session.execute(update(Job).where(Job.state == "failed")
                                 .values(state="queued", attempts=0, run_after=utcnow()))
        return result.rowcount


def failure_wait(failures: int, poll_seconds: float) -> float:
    """How long a worker waits after `failures` rounds failed in a row: the poll interval, doubled for each
    further failure, at most MAX_FAILURE_WAIT_SECONDS (a wake-up from a new upload does not cut it short)."""
    return min(MAX_FAILURE_WAIT_SECONDS, poll_seconds * 2 ** min(failures - 1, 16))


def _lower_priority() -> None:
    """Nice this thread (Linux: a thread has a nice value of its own), so that on a machine busy with uploads
    served by another process the scheduler runs those first."""
    try:
        os.setpriority(os.PRIO_PROCESS, threading.get_native_id(), WORKER_NICE)
    except (AttributeError, OSError):  # not Linux, or not allowed: the worker still gives way to requests
        pass


class Worker(threading.Thread):
    """The in-process worker: wakes when a submission is accepted, otherwise polls; reconciling comes first,
    photos are checked a few at a time in between.

    Requests come first: before each unit of work the worker waits until `quiet()` says the server is serving
    no request, but never longer than `patience` seconds, so that under a steady stream of uploads it still
    takes its share and falls behind by a bounded amount. While it waits, jobs accumulate; when the server is
    quiet they are done in full batches, which cost far less than one at a time, and when the patience ran out
    in small ones (`QueueSettings.busy_round`), so that uploads arriving meanwhile wait milliseconds.

    Photos wait longer than reconciles: a round taken while requests run checks photos only once every
    `photo_patience` seconds. A record must follow its submission within a second; a thumbnail can wait for
    the end of an upload burst, and checking photos is most of the background work (~15 ms of CPU each)."""

    def __init__(self, sessions: sessionmaker[Session], queue: QueueSettings, store: Store,
                 poll_seconds: float = 0.5, quiet: Callable[[], bool] | None = None, patience: float = 0.5,
                 photo_patience: float = 5.0, kind: str = "thread"):
        super().__init__(name="zoufang-reconcile", daemon=True)
        #: "thread" in a web process, "command" in `reconcile run`, which logs each batch (a web process's log
        #: is its requests')
        self.kind = kind
        self.batches = BatchLog() if kind == "command" else None
        self.worker_id: int | None = None
        self.sessions = sessions
        self.queue = queue
        self.store = store
        self.poll_seconds = poll_seconds
        self.quiet = quiet or (lambda: True)
        self.patience = patience
        self.photo_patience = photo_patience
        self._photos_checked = time.monotonic()
        self._wake = threading.Event()
        self._stopping = threading.Event()

    def wake(self) -> None:
        self._wake.set()

    def stop(self) -> None:
        self._stopping.set()
        self._wake.set()

    def run(self) -> None:
        _lower_priority()
        try:
            self.worker_id = register_worker(self.sessions, self.kind)
        except Exception:  # it works all the same, only not listed on the admin page
            log.exception("could not register this worker for the admin page")
        try:
            queue_start_work(self.sessions, self.queue)
        except Exception:  # the database may be restarting: requests count live meanwhile, records stay as folded
            log.exception("could not queue the work a start finds (coverage months to count, records to refold)")
        failures = 0
        while not self._stopping.is_set():
            quiet = self._give_way()
            queue = self.queue if quiet else self.queue.busy_round()
            try:
                started = time.monotonic()
                done = run_pending(self.sessions, queue, self.worker_id)
                self._log("reconciled", done, started)
                if not done:
                    refill_coverage(self.sessions)
                if not done and (quiet or time.monotonic() - self._photos_checked >= self.photo_patience):
                    self._photos_checked = started = time.monotonic()
                    done = run_image_jobs(self.sessions, self.store, queue, self.worker_id)
                    self._log("photos checked", done, started)
            except Exception:  # the database may be restarting: keep the thread alive
                failures += 1
                log.exception("worker round failed (%d in a row); next try in %.1f s", failures,
                              failure_wait(failures, self.poll_seconds))
                self._stopping.wait(failure_wait(failures, self.poll_seconds))
                continue
            failures = 0
            if not done:
                self._wake.wait(self.poll_seconds)
                self._wake.clear()

    def _log(self, what: str, done: list[int], started: float) -> None:
        if done and self.batches is not None:
            self.batches.batch(what, len(done), time.monotonic() - started)

    def _give_way(self) -> bool:
        """Wait for the server to be quiet, at most `patience` seconds; True when it is."""
        deadline = time.monotonic() + self.patience
        while not self.quiet():
            if time.monotonic() >= deadline or self._stopping.is_set():
                return False
            self._stopping.wait(GIVE_WAY_POLL_SECONDS)
        return True
