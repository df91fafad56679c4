"""`reconcile rebuild` in chunks: resumed after an interruption, shared by processes, beside a running server."""
import pytest
from sqlalchemy import delete, event, select, text, update

from server.db import session_scope
from support import Collect, assessment_xml, new_instance_id, postgres_url, visit_xml
from sync.jobs import retry_failed, run_until_idle
from sync.models import Household, Job, Submission
from sync.rebuild import rebuild, rebuild_progress, run_chunks, start_rebuild
from sync.records import Finding, HouseholdRecord
from test_reconcile import snapshot

PG_URL = postgres_url()

HH, HH7, OTHER = "2105040010010001", "2105040010010007", "2105040010020002"
BELOW, BETWEEN, ABOVE = "0000000000000001", "2105040010010001X", "9999999999999999"


@pytest.fixture
def rt(app):
    return app.extensions["zoufang"]


@pytest.fixture
def reconciled(client, sample_district, rt):
    """A few households with submissions, reconciled as the worker does; the records as they stand."""
    device = Collect(client, sample_district["cadre1"])
    for xml in (visit_xml(HH, water="no", end="2026-11-20T09:00:00+08:00"), assessment_xml(HH7, grade="C"),
                visit_xml(HH7, water="no", end="2026-11-21T09:00:00+08:00")):
        assert device.submit(xml).status_code == 201
    assert Collect(client, sample_district["town1"]).submit(visit_xml(OTHER)).status_code == 201
    run_until_idle(rt.sessions, rt.queue)
    return snapshot(rt.sessions)


def test_an_interrupted_rebuild_resumes_where_it_stopped(rt, reconciled, runner):
    assert start_rebuild(rt.sessions, batch=10)
    assert run_chunks(rt.sessions, rt.queue, limit=3).households == 30
    assert rebuild_progress(rt.sessions) == (30, 113)
    assert not start_rebuild(rt.sessions, batch=10)  # one rebuild at a time: a second start resumes it
    result = runner.invoke(args=["reconcile", "rebuild"])
    assert result.exit_code == 0, result.output
    assert "rebuilt 83 households" in result.output
    assert rebuild_progress(rt.sessions) is None
    assert snapshot(rt.sessions) == reconciled


def test_submissions_naming_no_known_household_are_found_chunk_by_chunk(client, sample_district, rt, reconciled):
    device = Collect(client, sample_district["cadre1"])
    for number in (BELOW, BETWEEN, ABOVE):
        assert device.submit(visit_xml(number)).status_code == 201
    with session_scope(rt.sessions) as session:  # as if the worker had not got to them
        session.execute(update(Submission).values(reconcile_state="pending"))
        session.execute(update(Job).where(Job.kind == "reconcile").values(state="failed"))
    assert rebuild(rt.sessions, rt.queue, batch=10).left == 0
    with session_scope(rt.sessions) as session:
        states = dict(session.execute(select(Submission.household_number, Submission.reconcile_state)).all())
    assert {number: states[number] for number in (BELOW, BETWEEN, ABOVE)} == dict.fromkeys(
        (BELOW, BETWEEN, ABOVE), "unknown_household")
    assert states[HH] == "applied"


def test_a_failing_chunk_is_kept_and_the_others_go_on(rt, reconciled, monkeypatch):
    import sync.rebuild
    real = sync.rebuild.reconcile_households

    def failing(session, numbers, *args, **kwargs):
        if HH in numbers:
            raise RuntimeError("disk full")
        return real(session, numbers, *args, **kwargs)

    monkeypatch.setattr(sync.rebuild, "reconcile_households", failing)
    rebuilt = rebuild(rt.sessions, rt.queue, batch=10)
    assert (rebuilt.households, rebuilt.left) == (103, 1)
    with session_scope(rt.sessions) as session:
        assert "disk full" in session.scalar(select(Job.last_error).where(Job.kind == "rebuild"))
    monkeypatch.setattr(sync.rebuild, "reconcile_households", real)
    assert retry_failed(rt.sessions) == 1
    assert (rebuild(rt.sessions, rt.queue).households, rebuild_progress(rt.sessions)) == (10, None)
    assert snapshot(rt.sessions) == reconciled


def test_a_submission_received_during_a_rebuild_is_still_reconciled(client, sample_district, rt, reconciled):
    start_rebuild(rt.sessions, batch=10)
    run_chunks(rt.sessions, rt.queue)  # HH's chunk is done before the submission arrives
    instance_id = new_instance_id()
    assert Collect(client, sample_district["cadre1"]).submit(
        visit_xml(HH, instance_id=instance_id, water="yes", end="2026-11-25T09:00:00+08:00")).status_code == 201
    assert rebuild(rt.sessions, rt.queue).left == 0
    run_until_idle(rt.sessions, rt.queue)
    with session_scope(rt.sessions) as session:
        assert session.scalar(select(Submission.reconcile_state).where(Submission.instance_id == instance_id)) \
            == "applied"


@pytest.mark.skipif(not PG_URL, reason="several rebuild processes need PostgreSQL")
def test_two_processes_share_the_chunks(rt, reconciled, runner):
    result = runner.invoke(args=["reconcile", "rebuild", "--workers", "2"])
    assert result.exit_code == 0, result.output
    assert "rebuilt 113 households" in result.output
    assert snapshot(rt.sessions) == reconciled


@pytest.mark.skipif(bool(PG_URL), reason="SQLite's refusal")
def test_several_processes_are_refused_on_sqlite(rt, runner):
    result = runner.invoke(args=["reconcile", "rebuild", "--workers", "2"])
    assert result.exit_code == 2
    assert "need PostgreSQL" in result.output


def test_a_rebuild_gives_the_corrected_records(rt, reconciled, runner):
    """Issue 14: `reconcile rebuild` refolds every record with today's rules. Records written by the old code (no
    risk flag for an exited household's unsafe water, "no" for an exit standard never judged) come back corrected:
    DOMAIN.md Precisions "A 三保障 or water gap in an exited household is a risk"; DOMAIN.md:61 no income, no
    judgement."""
    with session_scope(rt.sessions) as session:  # as the old code left them
        session.execute(delete(Finding).where(Finding.code.like("risk_%")))
        session.execute(update(HouseholdRecord).values(exit_eligible=False))
    result = runner.invoke(args=["reconcile", "rebuild"])
    assert result.exit_code == 0, result.output
    with session_scope(rt.sessions) as session:
        flagged = set(session.scalars(select(Household.number).join(Finding, Finding.household_id == Household.id)
                                      .where(Finding.code == "risk_water")))
        assert flagged == {HH, HH7}  # a 脱贫不稳定户 and an exited household, both with unsafe water
        assert set(session.scalars(select(HouseholdRecord.exit_eligible))) == {None}  # nobody's income surveyed
    assert snapshot(rt.sessions) == reconciled


def test_chunks_are_planned_as_the_work_goes_and_the_first_starts_at_once(rt, reconciled):
    """Issue 18: a province's rebuild must start within a second, so a start plans nothing; each process that finds
    no chunk queued plans PLAN_AHEAD more from the cursor."""
    from sync.rebuild import CHUNK, PLAN, PLAN_AHEAD

    def jobs():
        with session_scope(rt.sessions) as session:
            return [kind for kind in session.scalars(select(Job.kind).where(Job.kind.in_((CHUNK, PLAN)))
                                                     .order_by(Job.id))]
    assert start_rebuild(rt.sessions, batch=10)
    assert jobs() == [PLAN]
    assert run_chunks(rt.sessions, rt.queue, limit=1).households == 10
    assert jobs() == [PLAN] + [CHUNK] * (PLAN_AHEAD - 1)
    assert rebuild_progress(rt.sessions) == (10, 113)
    assert rebuild(rt.sessions, rt.queue).households == 103   # 11 chunks of 10, then 3, then none above the last
    assert jobs() == [] and rebuild_progress(rt.sessions) is None
    assert snapshot(rt.sessions) == reconciled


def test_an_estimated_total_is_made_exact_when_the_last_chunk_is_planned(rt, reconciled):
    from sync.rebuild import FINISH
    assert start_rebuild(rt.sessions, batch=50)
    with session_scope(rt.sessions) as session:  # as PostgreSQL's estimate of a big table may be off
        marker = session.scalar(select(Job).where(Job.kind == FINISH))
        marker.payload = {**marker.payload, "households": 150, "exact": False}
    assert run_chunks(rt.sessions, rt.queue, limit=1).households == 50
    assert rebuild_progress(rt.sessions) == (50, 113)   # 4 chunks planned (50, 50, 13, none): the total is known
    run_chunks(rt.sessions, rt.queue)
    with session_scope(rt.sessions) as session:
        assert session.scalar(select(Job.payload).where(Job.kind == FINISH))["exact"] is True


@pytest.mark.skipif(not PG_URL, reason="the estimate is PostgreSQL's")
def test_a_large_postgresql_database_starts_from_the_estimate_without_counting(rt, reconciled, monkeypatch):
    import sync.rebuild
    from sync.rebuild import FINISH
    monkeypatch.setattr(sync.rebuild, "ESTIMATE_ABOVE", 100)   # 113 households count as large
    with rt.engine.connect() as connection:
        # ANALYZE sets the table's size estimate at once, for every session; the column statistics it writes are
        # rolled back, lest they change the plans of the tests that run after this one on the same database
        connection.execute(text("ANALYZE households"))
        assert start_rebuild(rt.sessions, batch=10)
        connection.rollback()
    with session_scope(rt.sessions) as session:
        marker = session.scalar(select(Job.payload).where(Job.kind == FINISH))
    assert (marker["households"], marker["exact"]) == (113, False)


def test_a_rebuild_rewrites_only_the_facts_that_changed(rt, reconciled):
    """A rebuild re-reads every submission's XML; a fact the same reader already cached is not written again (that
    would rewrite every submission's row, XML and all). One cleared and one cached by an older reader are."""
    with session_scope(rt.sessions) as session:
        first, second, *rest = session.scalars(select(Submission.id).order_by(Submission.id)).all()
        session.execute(update(Submission).where(Submission.id == first).values(facts=None))
        session.execute(update(Submission).where(Submission.id == second).values(facts={"reader": 0}))
    written = []

    def watch(conn, cursor, statement, parameters, context, executemany):
        if statement.lstrip().upper().startswith("UPDATE SUBMISSIONS SET FACTS"):
            for row in parameters if executemany else [parameters]:  # WHERE id = ?, the last parameter
                written.append(list(row.values())[-1] if isinstance(row, dict) else row[-1])

    engine = rt.sessions.kw["bind"]
    event.listen(engine, "before_cursor_execute", watch)
    try:
        assert rebuild(rt.sessions, rt.queue, batch=50).households == 113
    finally:
        event.remove(engine, "before_cursor_execute", watch)
    assert sorted(written) == [first, second] and rest
    with session_scope(rt.sessions) as session:
        assert None not in session.scalars(select(Submission.facts)).all()
    assert snapshot(rt.sessions) == reconciled
