"""Order independence through the whole stack, and workers racing over one queue on PostgreSQL."""
import os
import random
import threading

import pytest
from sqlalchemy import delete, select

from server.db import session_scope
from support import Collect, assessment_xml, income_xml, visit_xml
from sync.jobs import QueueSettings, run_pending
from sync.models import Household, Job, Submission, SubmissionAttachment
from sync.records import Conflict, Finding, HouseholdRecord, RecordMember, Resolution, Visit

HH, HH7 = "2105040010010001", "2105040010010007"


def stream():
    """A month of a village's work, some of it offline and late, two cadres on one household."""
    return [
        visit_xml(HH, instance_id="uuid:v1", water="no", grade="C", house_safe="no", end="2026-11-02T09:00:00+08:00"),
        visit_xml(HH, instance_id="uuid:v2", water="yes", grade="B", base_version=2, end="2026-11-10T09:00:00+08:00"),
        visit_xml(HH, instance_id="uuid:v3", water="no", base_version=2, end="2026-11-10T15:00:00+08:00",
                  username="town1"),
        assessment_xml(HH, instance_id="uuid:a1", grade="D", renovation_state="building", base_version=3),
        income_xml(HH, instance_id="uuid:i1", year=2024, wage=20000, end="2025-11-22T10:00:00+08:00"),
        income_xml(HH, instance_id="uuid:i2", year=2025, wage=3000, medical=25000, base_version=2),
        visit_xml(HH7, instance_id="uuid:w1", changes=[{"type": "birth", "name": "小宝", "date": "2026-11-01"}]),
        visit_xml(HH7, instance_id="uuid:w2", base_version=3, trunk_version=2, branch_id="br-1",
                  end="2026-11-15T09:00:00+08:00", food="no"),
        visit_xml(HH7, instance_id="uuid:w3", base_version=2, trunk_version=2, branch_id="br-1",
                  end="2026-11-14T09:00:00+08:00"),
    ]


def snapshot(sessions):
    with session_scope(sessions) as session:
        numbers = dict(session.execute(select(Household.id, Household.number)).all())
        instance = dict(session.execute(select(Submission.id, Submission.instance_id)).all())
        records = {numbers[r.household_id]: (r.fields, r.members, r.visits, r.assessments, r.incomes, r.events,
                                             r.version, r.size, r.exit_eligible, r.open_conflicts)
                   for r in session.scalars(select(HouseholdRecord))}
        visits = sorted((instance[v.submission_id], numbers[v.household_id], v.visit_date)
                        for v in session.scalars(select(Visit)))
        conflicts = sorted((c.key, c.state) for c in session.scalars(select(Conflict)))
        findings = sorted((numbers[f.household_id], f.code, f.message_en) for f in session.scalars(select(Finding)))
        states = sorted(session.execute(select(Submission.instance_id, Submission.reconcile_state)).all())
    return records, visits, conflicts, findings, states


def reset(sessions):
    with session_scope(sessions) as session:
        for table in (Visit, Conflict, Finding, RecordMember, HouseholdRecord, Resolution, Job,
                      SubmissionAttachment, Submission):
            session.execute(delete(table))


def test_every_arrival_order_gives_the_same_records(client, sample_district, reconcile, sessions):
    submissions = stream()
    device = Collect(client, sample_district["town1"])
    rng = random.Random(20261125)
    reference = None
    for _ in range(6):
        reset(sessions)
        order = list(submissions)
        rng.shuffle(order)
        for xml in order:
            assert device.submit(xml).status_code == 201
            reconcile()  # incremental: a record after every arrival
        result = snapshot(sessions)
        if reference is None:
            reference = result
            assert reference[0][HH][0]["water_safe"]["instance_id"] == "uuid:v3"
        assert result == reference


@pytest.mark.skipif(not os.environ.get("ZOUFANG_TEST_DATABASE_URL"), reason="racing workers need PostgreSQL")
def test_two_workers_racing_over_one_queue_never_process_a_job_twice(app, client, sample_district, reconcile,
                                                                     sessions, monkeypatch):
    import sync.jobs
    reconcile()
    device = Collect(client, sample_district["town1"])
    for i in range(60):
        assert device.submit(visit_xml(HH if i % 2 else HH7, end=f"2026-11-{1 + i % 28:02d}T09:00:00+08:00",
                                       water="yes" if i % 3 else "no")).status_code == 201
    with session_scope(sessions) as session:
        for number in session.scalars(select(Household.number)):
            session.add(Job(kind="reconcile", payload={"households": [number]}))
        queued = set(session.scalars(select(Job.id)))
    rt = app.extensions["zoufang"]
    queue = QueueSettings(rules=rt.queue.rules, hold=rt.queue.hold, batch=7)

    # Worker "a" keeps its first batch's transaction open until worker "b" has claimed a batch of its own: "b"
    # can only do that by skipping the rows "a" holds (SKIP LOCKED); a plain FOR UPDATE would wait for "a".
    claimed = {"a": threading.Event(), "b": threading.Event()}
    b_claimed = claimed["b"]
    claim, work = sync.jobs._claim, sync.jobs._work

    def watched_claim(*args, **kwargs):
        rows = claim(*args, **kwargs)
        if rows and threading.current_thread().name in claimed:
            claimed[threading.current_thread().name].set()
        return rows

    def slow_first_batch(*args, **kwargs):
        if threading.current_thread().name == "a" and not b_claimed.is_set():
            assert b_claimed.wait(30), "worker b could not claim while worker a held its jobs"
        return work(*args, **kwargs)

    monkeypatch.setattr(sync.jobs, "_claim", watched_claim)
    monkeypatch.setattr(sync.jobs, "_work", slow_first_batch)
    done: dict[str, list[int]] = {"a": [], "b": []}
    errors = []

    def run(name):
        try:
            while True:
                batch = run_pending(rt.sessions, queue)
                if not batch:
                    with session_scope(rt.sessions) as session:
                        if session.scalar(select(Job.id).where(Job.state == "queued")) is None:
                            return
                    continue
                done[name].extend(batch)
        except Exception as exc:  # pragma: no cover - reported below
            errors.append(exc)

    first = threading.Thread(target=run, args=("a",), name="a")
    first.start()
    assert claimed["a"].wait(30)
    second = threading.Thread(target=run, args=("b",), name="b")
    second.start()
    for thread in (first, second):
        thread.join(120)
    assert not errors
    assert b_claimed.is_set() and done["a"] and done["b"]
    assert not set(done["a"]) & set(done["b"])
    assert sorted(done["a"] + done["b"]) == sorted(queued)
    with session_scope(sessions) as session:
        assert session.scalar(select(Job.id)) is None
        assert session.scalar(select(Submission.id).where(Submission.reconcile_state != "applied")) is None
