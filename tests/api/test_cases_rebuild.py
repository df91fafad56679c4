"""Problem cases are derived: any arrival order of the same submissions, reconciled after each arrival, gives the
same cases, and so does `reconcile rebuild`; the people's decisions (a sign-off, a measure) are inputs kept through
both, whether they are there before the submissions that open their case arrive or not.

DOMAIN.md "Precisions": "Problems are closed, not only found … found → measure → resolved and signed off".
"""
import datetime as dt
import random

from sqlalchemy import delete, select

from server.db import session_scope
from support import Collect, assessment_xml, income_xml, visit_xml
from sync.case_models import Case, CaseDecision
from sync.cases import case_key
from sync.jobs import run_until_idle
from sync.models import Household, Job, Submission, SubmissionAttachment
from sync.rebuild import rebuild
from sync.reconcile import reconcile_households
from sync.records import Conflict, Finding, HouseholdRecord, RecordMember, Resolution, Visit

HH, HH7 = "2105040010010001", "2105040010010007"
SIGNED_AT = dt.datetime(2026, 11, 12, 1, 0, tzinfo=dt.timezone.utc)
MEASURED_AT = dt.datetime(2026, 11, 25, 1, 0, tzinfo=dt.timezone.utc)


def stream():
    """A village's two months: water found, help given, the house assessed, found solved, found again."""
    return [
        visit_xml(HH, instance_id="uuid:v1", water="no", food="no", end="2026-11-02T09:00:00+08:00"),
        visit_xml(HH, instance_id="uuid:v2", water="no", food="no", help_given="policy aid", base_version=2,
                  end="2026-11-10T09:00:00+08:00"),
        visit_xml(HH, instance_id="uuid:v3", water="yes", food="no", base_version=3, end="2026-11-20T09:00:00+08:00"),
        visit_xml(HH, instance_id="uuid:v4", water="no", food="no", base_version=4, end="2026-11-28T09:00:00+08:00"),
        assessment_xml(HH, instance_id="uuid:a1", grade="D", renovation_state="building", base_version=3),
        income_xml(HH, instance_id="uuid:i1", year=2025, size=9),
        visit_xml(HH7, instance_id="uuid:w1", medical="no", answers={"two_assurances/not_insured_names": "甲 乙"}),
        visit_xml(HH7, instance_id="uuid:w2", clothing="no", base_version=2, end="2026-11-25T09:00:00+08:00"),
    ]


def cases_now(sessions):
    with session_scope(sessions) as session:
        numbers = dict(session.execute(select(Household.id, Household.number)).all())
        return sorted((numbers[c.household_id], c.kind, c.subject, c.key, c.state, c.opened_at, c.source_instance_id,
                       c.closed_at, c.closing_instance_id, c.closing_decision_id is not None, c.cadre,
                       c.last_measure_at, repr(c.history)) for c in session.scalars(select(Case)))


def reset(sessions):
    with session_scope(sessions) as session:
        for table in (Case, Visit, Conflict, Finding, RecordMember, HouseholdRecord, Resolution, Job,
                      SubmissionAttachment, Submission):
            session.execute(delete(table))


def decide(sessions, admin_id):
    """A supervisor signs HH's food case off; a measure on its house, entered by hand (kept across the runs, so
    that their ids are the same in each)."""
    with session_scope(sessions) as session:
        hh = session.scalar(select(Household.id).where(Household.number == HH))
        session.add_all([
            CaseDecision(case_key=case_key(HH, "food", ""), household_id=hh, kind="sign_off", text="已落实低保",
                         by_id=admin_id, by_name="town1", at=SIGNED_AT),
            CaseDecision(case_key=case_key(HH, "dangerous_house", ""), household_id=hh, kind="measure",
                         text="已申请危改补助", by_id=admin_id, by_name="town1", at=MEASURED_AT)])


def test_every_arrival_order_and_a_rebuild_give_the_same_cases(app, client, sample_district, admin, sessions):
    rt = app.extensions["zoufang"]
    with session_scope(sessions) as session:
        from server.models import User
        admin_id = session.scalar(select(User.id).where(User.username == "admin"))
    device = Collect(client, admin)
    rng = random.Random(20261206)
    reference = None
    for run in range(4):
        reset(sessions)
        order = stream()
        rng.shuffle(order)
        for i, xml in enumerate(order):
            assert device.submit(xml).status_code == 201
            run_until_idle(rt.sessions, rt.queue)  # incremental: the cases after every arrival
            if run == 0 and i == len(order) // 2:
                # half-way: reconciled with the next arrivals; the later runs have them before any submission
                decide(sessions, admin_id)
        if run == 0:
            with session_scope(sessions) as session:
                reconcile_households(session, [HH, HH7], rt.queue.options())
        result = cases_now(sessions)
        if reference is None:
            reference = result
        assert result == reference

    by_subject = {(r[0], r[1], r[2]): r for r in reference}
    water = by_subject[(HH, "water", "")]
    assert (water[4], water[6]) == ("reopened", "uuid:v4")
    assert "'measure'" in water[12] and "policy" in water[12]
    food = by_subject[(HH, "food", "")]
    # signed off on 12 November, found again by the visit of the 20th
    assert (food[4], food[6]) == ("reopened", "uuid:v3") and "signed_off" in food[12]
    assert by_subject[(HH, "dangerous_house", "")][11] == MEASURED_AT
    assert by_subject[(HH, "data_quality", "size_mismatch")][4] == "open"
    assert {r[2] for r in reference if r[:2] == (HH7, "uninsured")} == {"甲", "乙"}
    assert by_subject[(HH7, "clothing", "")][4] == "open"

    assert rebuild(rt.sessions, rt.queue, batch=10).left == 0
    assert cases_now(sessions) == reference
