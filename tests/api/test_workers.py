"""Seeing the workers work (issue 17 item 15): `reconcile run` logs each batch with counts and rates, and the admin
page lists each worker with its host, last batch and jobs done, counted in the batch's own transaction."""
import datetime as dt
import logging
import threading
import time

from sqlalchemy import select

from server.db import session_scope, utcnow
from support import Collect, login, make_jpeg, visit_xml
from sync.jobs import Worker, run_image_jobs, run_pending
from sync.models import WorkerActivity
from sync.workers import register_worker

HH = "2105040010010001"


def activity(sessions, worker_id):
    with session_scope(sessions) as session:
        row = session.get(WorkerActivity, worker_id)
        return row.kind, row.reconciled, row.photos, row.last_batch_at


def test_each_batch_is_counted_for_its_worker_and_the_admin_page_shows_it(app, client, sessions, sample_district,
                                                                         make_user):
    rt = app.extensions["zoufang"]
    worker_id = register_worker(sessions, "command")
    assert activity(sessions, worker_id)[1:] == (0, 0, None)
    for n in range(2):
        xml = visit_xml(HH, instance_id=f"uuid:counted-{n}")
        assert Collect(client, sample_district["cadre1"]).submit(xml, {"family.jpg": make_jpeg()}).status_code == 201
    before = utcnow()
    reconciled_now = run_pending(sessions, rt.queue, worker_id)  # the two visits, and the roster's import
    checked = run_image_jobs(sessions, rt.store, rt.queue, worker_id)
    assert len(reconciled_now) >= 2 and len(checked) == 2
    kind, reconciled, photos, last_batch = activity(sessions, worker_id)
    assert (kind, reconciled, photos) == ("command", len(reconciled_now), 2) and last_batch >= before

    make_user("boss", "admin")
    login(client, "boss")
    page = client.get("/admin/").get_data(as_text=True)
    assert 'data-testid="worker-row"' in page and f'data-testid="worker-reconciled">{reconciled}<' in page
    assert "reconcile run" in page and "后台处理进程" in page
    english = client.get("/admin/?lang=en").get_data(as_text=True)
    assert "Background workers" in english and "Last batch" in english


def test_a_worker_silent_for_a_week_is_forgotten_when_another_starts(sessions):
    with session_scope(sessions) as session:
        session.add(WorkerActivity(host="old-host", pid=1, kind="thread", reconciled=5, photos=0,
                                   started_at=utcnow() - dt.timedelta(days=30),
                                   last_batch_at=utcnow() - dt.timedelta(days=8)))
        session.add(WorkerActivity(host="idle-host", pid=2, kind="thread", reconciled=0, photos=0,
                                   started_at=utcnow() - dt.timedelta(days=2)))
    register_worker(sessions, "thread")
    with session_scope(sessions) as session:
        hosts = set(session.scalars(select(WorkerActivity.host)))
    assert "old-host" not in hosts and "idle-host" in hosts and len(hosts) == 2


def test_reconcile_run_logs_each_batch_with_counts_and_rates(app, client, sessions, sample_district, caplog):
    rt = app.extensions["zoufang"]
    run_pending(sessions, rt.queue)  # the roster's import, done before the worker starts
    caplog.set_level(logging.INFO, logger="zoufang.worker")
    worker = Worker(sessions, rt.queue, rt.store, poll_seconds=0.05, kind="command")
    worker.start()
    try:
        assert Collect(client, sample_district["cadre1"]).submit(visit_xml(HH)).status_code == 201
        deadline = time.monotonic() + 20
        while time.monotonic() < deadline and not any("reconciled" in r.getMessage() for r in caplog.records):
            time.sleep(0.05)
    finally:
        worker.stop()
        worker.join(10)
    [line] = [r.getMessage() for r in caplog.records if r.getMessage().startswith("reconciled")]
    assert line.startswith("reconciled 1 in ") and "/s); 1 since start (" in line
    assert activity(sessions, worker.worker_id)[:2] == ("command", 1)


def test_a_web_process_thread_counts_its_batches_without_logging_each(app, client, sessions, sample_district,
                                                                      caplog):
    rt = app.extensions["zoufang"]
    run_pending(sessions, rt.queue)
    caplog.set_level(logging.INFO, logger="zoufang.worker")
    worker = Worker(sessions, rt.queue, rt.store, poll_seconds=0.05)
    done = threading.Event()
    worker.start()
    try:
        assert Collect(client, sample_district["cadre1"]).submit(visit_xml(HH)).status_code == 201
        deadline = time.monotonic() + 20
        while time.monotonic() < deadline and not done.is_set():
            if worker.worker_id is not None and activity(sessions, worker.worker_id)[1] == 1:
                done.set()
            time.sleep(0.05)
    finally:
        worker.stop()
        worker.join(10)
    assert done.is_set() and activity(sessions, worker.worker_id)[0] == "thread"
    assert not [r for r in caplog.records if r.getMessage().startswith("reconciled")]
