"""The request counter the background worker gives way to."""
import threading
import time

from server.activity import RequestActivity
from sync.jobs import Worker


def _app(environ, start_response):
    start_response("200 OK", [("Content-Type", "text/plain")])
    return iter([b"a", b"b"])


def test_a_request_counts_until_its_response_is_closed():
    activity = RequestActivity(quiet_seconds=0)
    assert activity.quiet()
    response = activity.wrap(_app)({}, lambda *_: None)
    assert not activity.quiet()
    assert b"".join(response) == b"ab"
    assert not activity.quiet()  # sent, but the server has not closed it yet
    response.close()
    assert activity.quiet()


def test_quiet_only_some_time_after_the_last_request():
    activity = RequestActivity(quiet_seconds=0.05)
    activity.wrap(_app)({}, lambda *_: None).close()
    assert not activity.quiet()
    time.sleep(0.06)
    assert activity.quiet()


def test_a_failing_request_does_not_stay_counted():
    activity = RequestActivity(quiet_seconds=0)

    def broken(environ, start_response):
        raise RuntimeError("boom")

    try:
        activity.wrap(broken)({}, lambda *_: None)
    except RuntimeError:
        pass
    assert activity.quiet()


def _worker(quiet, patience):
    return Worker(sessions=None, queue=None, store=None, quiet=quiet, patience=patience)


def test_the_worker_waits_while_requests_run_but_no_longer_than_its_patience():
    worker = _worker(lambda: False, patience=0.2)
    began = time.monotonic()
    worker._give_way()
    assert 0.2 <= time.monotonic() - began < 1.0


def test_the_worker_starts_at_once_when_the_process_is_quiet():
    worker = _worker(lambda: True, patience=5)
    began = time.monotonic()
    worker._give_way()
    assert time.monotonic() - began < 0.1


def test_the_worker_starts_as_soon_as_the_requests_end():
    busy = threading.Event()
    busy.set()
    worker = _worker(lambda: not busy.is_set(), patience=5)
    threading.Timer(0.1, busy.clear).start()
    began = time.monotonic()
    worker._give_way()
    assert 0.09 <= time.monotonic() - began < 1.0


def test_the_worker_thread_runs_at_a_lower_priority_than_requests():
    import os

    from sync.jobs import WORKER_NICE, _lower_priority

    seen = {}

    def probe():
        before = os.getpriority(os.PRIO_PROCESS, threading.get_native_id())
        _lower_priority()
        seen["before"], seen["after"] = before, os.getpriority(os.PRIO_PROCESS, threading.get_native_id())

    thread = threading.Thread(target=probe)
    thread.start()
    thread.join()
    assert seen["after"] == max(seen["before"], WORKER_NICE)  # lowered, never raised
    assert os.getpriority(os.PRIO_PROCESS, threading.get_native_id()) == seen["before"]  # this thread unchanged


def test_a_request_in_another_process_of_the_server_makes_this_one_wait(tmp_path):
    # two RequestActivity objects on one shared clock file stand for two gunicorn workers
    from server.activity import SharedClock

    here = RequestActivity(quiet_seconds=0.05, shared=SharedClock(tmp_path / "activity"))
    there = RequestActivity(quiet_seconds=0.05, shared=SharedClock(tmp_path / "activity"))
    time.sleep(0.06)
    assert here.quiet() and there.quiet()
    there.wrap(_app)({}, lambda *_: None).close()
    assert not here.quiet()
    time.sleep(0.06)
    assert here.quiet()


def test_a_stamp_from_before_the_machine_started_is_ignored(tmp_path):
    import struct

    from server.activity import SharedClock

    clock = SharedClock(tmp_path / "activity")
    (tmp_path / "activity").write_bytes(struct.pack("<q", (time.monotonic_ns() + 10 ** 12)))  # in the future
    assert clock.last() == float("-inf")
    assert RequestActivity(quiet_seconds=0.05, shared=clock).quiet()


def test_a_round_taken_while_requests_run_is_a_small_one(monkeypatch):
    import datetime as dt

    import sync.jobs
    from sync.jobs import QueueSettings

    queue = QueueSettings(rules=None, hold=dt.timedelta(0))
    rounds = []

    def run_pending(_sessions, given, _worker_id=None):
        rounds.append(given)
        worker.stop()
        return [1]

    monkeypatch.setattr(sync.jobs, "run_pending", run_pending)
    monkeypatch.setattr(sync.jobs, "_lower_priority", lambda: None)  # run() runs in the test's own thread here
    monkeypatch.setattr(sync.jobs, "queue_start_work", lambda _sessions, _queue: None)   # nothing found at start
    for quiet, expected in ((False, queue.busy_batch), (True, queue.batch)):
        worker = Worker(sessions=None, queue=queue, store=None, quiet=lambda q=quiet: q, patience=0.05)
        worker.run()
        assert rounds[-1].batch == expected
    busy = rounds[0]
    assert (busy.image_batch, busy.image_budget) == (queue.busy_image_batch, queue.busy_image_budget)
    assert busy.busy_batch < queue.batch and busy.image_budget < queue.image_budget


def test_photos_wait_for_a_quiet_server_longer_than_reconciles(monkeypatch):
    import datetime as dt

    import sync.jobs
    from sync.jobs import QueueSettings

    queue = QueueSettings(rules=None, hold=dt.timedelta(0))
    photo_rounds = []
    monkeypatch.setattr(sync.jobs, "run_pending", lambda _sessions, _queue, _worker_id=None: [])  # no reconcile due
    monkeypatch.setattr(sync.jobs, "run_image_jobs",
                        lambda _s, _store, given, _worker_id=None: photo_rounds.append(given) or [])
    monkeypatch.setattr(sync.jobs, "_lower_priority", lambda: None)
    monkeypatch.setattr(sync.jobs, "queue_start_work", lambda _sessions, _queue: None)   # nothing found at start
    monkeypatch.setattr(sync.jobs, "refill_coverage", lambda _sessions: 0)              # no month to count
    busy = Worker(sessions=None, queue=queue, store=None, quiet=lambda: False, patience=0.01, photo_patience=0.3,
                  poll_seconds=0.01)
    threading.Timer(0.2, busy.stop).start()
    busy.run()
    assert photo_rounds == []  # requests kept running: no photo round within its photo patience
    busy = Worker(sessions=None, queue=queue, store=None, quiet=lambda: False, patience=0.01, photo_patience=0.05,
                  poll_seconds=0.01)
    threading.Timer(0.2, busy.stop).start()
    began = time.monotonic()
    busy.run()
    at_most = (time.monotonic() - began) / 0.05  # one round per photo patience, where a poll would allow ~20
    assert 1 <= len(photo_rounds) <= at_most and all(r.image_batch == queue.busy_image_batch for r in photo_rounds)
    photo_rounds.clear()
    quiet = Worker(sessions=None, queue=queue, store=None, quiet=lambda: True, photo_patience=60, poll_seconds=0.01)
    threading.Timer(0.05, quiet.stop).start()
    quiet.run()
    assert photo_rounds and photo_rounds[0].image_batch == queue.image_batch  # a quiet server: at once, in full


def test_rounds_that_fail_in_a_row_are_retried_ever_more_slowly_and_a_success_resets_it(monkeypatch):
    """The database down or a programming error: the worker stays alive and tries again, but after the poll
    interval, then twice that, up to a minute, instead of logging the same trace twice a second."""
    import datetime as dt

    import sync.jobs
    from sync.jobs import MAX_FAILURE_WAIT_SECONDS, QueueSettings, failure_wait

    assert [failure_wait(n, 0.5) for n in (1, 2, 3, 4)] == [0.5, 1.0, 2.0, 4.0]
    assert failure_wait(8, 0.5) == MAX_FAILURE_WAIT_SECONDS and failure_wait(10_000, 0.5) == MAX_FAILURE_WAIT_SECONDS
    queue = QueueSettings(rules=None, hold=dt.timedelta(0))
    tries = []

    def run_pending(_sessions, _queue, _worker_id=None):
        tries.append(time.monotonic())
        if len(tries) == 4:
            return []  # the database is back
        raise RuntimeError("database restarting")

    monkeypatch.setattr(sync.jobs, "run_pending", run_pending)
    monkeypatch.setattr(sync.jobs, "refill_coverage", lambda _sessions: 0)
    monkeypatch.setattr(sync.jobs, "run_image_jobs", lambda _s, _store, _queue, _worker_id=None: [])
    monkeypatch.setattr(sync.jobs, "_lower_priority", lambda: None)
    monkeypatch.setattr(sync.jobs, "queue_start_work", lambda _sessions, _queue: None)
    worker = Worker(sessions=None, queue=queue, store=None, quiet=lambda: True, poll_seconds=0.05)
    worker.wake()  # a wake-up (an upload) does not cut a failure's wait short
    threading.Timer(0.6, worker.stop).start()
    worker.run()
    gaps = [later - earlier for earlier, later in zip(tries, tries[1:])]
    assert len(tries) >= 5
    assert gaps[0] >= 0.05 and gaps[1] >= 0.1 and gaps[2] >= 0.2  # 0.05, 0.1, 0.2 after 1, 2, 3 failures
    assert gaps[3] < 0.1  # the fourth round succeeded: the next comes after one poll, not 0.4 s
