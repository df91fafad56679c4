"""The reconciler end to end through the app: submissions in over OpenRosa, household records out over the API."""
import time

import pytest
from sqlalchemy import func, select

from server.db import session_scope
from support import Collect, assessment_xml, income_xml, new_instance_id, visit_xml
from sync.models import Job, Submission
from sync.records import Conflict, Finding, HouseholdRecord, Visit

HH = "2105040010010001"        # 郝福, village 1, 2 members, 监测户
HH7 = "2105040010010007"       # village 1, 5 members, 已脱贫
OTHER = "2105040010020002"     # village 2


@pytest.fixture
def device(client, sample_district):
    return Collect(client, sample_district["cadre1"])


def household(client, headers, number=HH):
    response = client.get(f"/api/v1/households/{number}", headers=headers)
    assert response.status_code == 200, response.get_data(as_text=True)
    return response.get_json()


def submit(device, xml):
    response = device.submit(xml)
    assert response.status_code == 201, response.get_data(as_text=True)


def test_a_visit_sets_fields_with_provenance(device, client, sample_district, reconcile):
    instance_id = new_instance_id()
    submit(device, visit_xml(HH, instance_id=instance_id, water="no", end="2026-11-20T10:00:00+08:00"))
    reconcile()
    record = household(client, sample_district["cadre1"])
    water = record["fields"]["water_safe"]
    assert water["value"] == "no"
    assert (water["instance_id"], water["form"], water["by"]) == (instance_id, "household_visit", "cadre001")
    assert water["at"].startswith("2026-11-20T02:00:00")
    assert record["fields"]["last_visit"]["value"] == "2026-11-20"
    assert record["fields"]["status"] == {"value": "监测户", "source": "roster"}
    assert record["latest_visit"]["instance_id"] == instance_id
    assert [m["name"] for m in record["members"]] == ["郝福", "宋建"]
    assert record["members"][0]["id_number"] == "210504********0878"
    assert record["version"] == 2  # roster 1 + one entity update


def test_late_offline_upload_does_not_overwrite_newer_data(device, client, sample_district, reconcile):
    newer, older = new_instance_id(), new_instance_id()
    submit(device, visit_xml(HH, instance_id=newer, water="yes", end="2026-11-20T10:00:00+08:00"))
    reconcile()
    submit(device, visit_xml(HH, instance_id=older, water="no", end="2026-11-02T10:00:00+08:00", base_version=1))
    reconcile()
    record = household(client, sample_district["cadre1"])
    assert record["fields"]["water_safe"]["value"] == "yes"
    assert record["fields"]["water_safe"]["instance_id"] == newer
    events = client.get(f"/api/v1/households/{HH}/events", headers=sample_district["cadre1"]).get_json()
    assert [e["instance_id"] for e in events if e["kind"] == "household_visit"] == [older, newer]


def test_applying_the_same_submission_twice_changes_nothing(device, client, sample_district, reconcile, sessions):
    xml = visit_xml(HH, water="no")
    submit(device, xml)
    reconcile()
    first = household(client, sample_district["cadre1"])
    submit(device, xml)  # an identical resend queues nothing new
    with session_scope(sessions) as session:
        session.add(Job(kind="reconcile", submission_id=session.scalar(select(Submission.id)), payload={}))
    reconcile()
    second = household(client, sample_district["cadre1"])
    assert {k: v for k, v in first.items() if k != "reconciled_at"} == \
           {k: v for k, v in second.items() if k != "reconciled_at"}


def test_an_edit_replaces_the_submission_it_edits(device, client, sample_district, reconcile, sessions):
    original = new_instance_id()
    submit(device, visit_xml(HH, instance_id=original, water="no"))
    reconcile()
    edit = new_instance_id()
    submit(device, visit_xml(HH, instance_id=edit, water="yes", deprecated_id=original))
    reconcile()
    record = household(client, sample_district["cadre1"])
    assert record["fields"]["water_safe"]["instance_id"] == edit
    assert record["version"] == 3  # both updates count: the version only grows
    with session_scope(sessions) as session:
        assert session.scalar(select(func.count(Visit.id))) == 1
        states = dict(session.execute(select(Submission.instance_id, Submission.reconcile_state)).all())
    assert states == {original: "superseded", edit: "applied"}


def test_conflict_opens_and_a_supervisor_resolves_it(device, client, sample_district, reconcile):
    cadre2 = Collect(client, sample_district["town1"])
    a, b = new_instance_id(), new_instance_id()
    submit(device, visit_xml(HH, instance_id=a, grade="B", base_version=1, end="2026-11-20T09:00:00+08:00"))
    submit(cadre2, visit_xml(HH, instance_id=b, grade="C", house_safe="no", base_version=1,
                             end="2026-11-20T15:00:00+08:00"))
    reconcile()
    record = household(client, sample_district["town1"])
    assert record["fields"]["housing_grade"]["value"] == "C"  # the newer observation, meanwhile
    conflicts = client.get("/api/v1/conflicts", headers=sample_district["town1"]).get_json()
    grade = next(c for c in conflicts if c["field"] == "housing_grade")
    assert grade["state"] == "open" and grade["household"] == HH and grade["base_version"] == 1
    assert {e["instance_id"]: e["value"] for e in grade["entries"]} == {a: "B", b: "C"}
    assert client.post(f"/api/v1/conflicts/{grade['key']}/resolve", json={"value": "B"},
                       headers=sample_district["cadre1"]).status_code == 403  # cadres do not resolve
    resolved = client.post(f"/api/v1/conflicts/{grade['key']}/resolve", json={"value": "B", "note": "现场核实"},
                           headers=sample_district["town1"])
    assert resolved.status_code == 200, resolved.get_data(as_text=True)
    assert resolved.get_json()["state"] == "resolved"
    record = household(client, sample_district["town1"])
    assert record["fields"]["housing_grade"]["value"] == "B"
    assert record["fields"]["housing_grade"]["source"] == "resolution"
    events = client.get(f"/api/v1/households/{HH}/events", headers=sample_district["town1"]).get_json()
    assert events[-1]["kind"] == "conflict_resolved" and events[-1]["by"] == "town1"
    again = client.post(f"/api/v1/conflicts/{grade['key']}/resolve", json={"value": "C"},
                        headers=sample_district["town1"])
    assert again.status_code == 409


def test_offline_chain_waits_for_the_edit_it_builds_on(device, client, sample_district, reconcile, sessions):
    branch = "b6d0c3a4-0000-4000-8000-000000000001"
    first, second = new_instance_id(), new_instance_id()
    # the second offline edit (base 2, from the device's own first edit) arrives first
    submit(device, visit_xml(HH, instance_id=second, water="yes", base_version=2, trunk_version=1, branch_id=branch,
                             end="2026-11-21T10:00:00+08:00"))
    reconcile()
    with session_scope(sessions) as session:
        assert session.scalar(select(Submission.reconcile_state).where(Submission.instance_id == second)) == "held"
        recheck = session.scalar(select(Job.run_after).where(Job.state == "queued"))
        assert recheck is not None  # it will be forced through after the hold time
    assert "water_safe" not in household(client, sample_district["cadre1"])["fields"]
    submit(device, visit_xml(HH, instance_id=first, water="no", base_version=1, trunk_version=1, branch_id=branch,
                             end="2026-11-20T10:00:00+08:00"))
    reconcile()
    record = household(client, sample_district["cadre1"])
    assert record["fields"]["water_safe"]["instance_id"] == second
    with session_scope(sessions) as session:
        states = dict(session.execute(select(Submission.instance_id, Submission.reconcile_state)).all())
    assert states == {first: "applied", second: "applied"}


@pytest.mark.parametrize("settings_overrides", [{"reconcile_hold_seconds": 0}])
def test_a_held_submission_is_forced_through_after_the_hold(device, client, sample_district, reconcile,
                                                            settings_overrides):
    submit(device, visit_xml(HH, water="no", base_version=5, trunk_version=3, branch_id="lonely-branch"))
    reconcile()
    assert household(client, sample_district["cadre1"])["fields"]["water_safe"]["value"] == "no"


def test_assessment_and_income_build_the_record_and_rules_flag_it(device, client, sample_district, reconcile):
    submit(device, assessment_xml(HH, grade="D", renovation_state="building"))
    submit(device, income_xml(HH, year=2024, size=2, wage=20000, pension=0, business_gross=0, business_cost=0,
                              end="2025-11-22T10:00:00+08:00"))
    submit(device, income_xml(HH, year=2025, size=2, wage=6000, pension=1200, business_gross=0, business_cost=0,
                              medical=30000))
    reconcile()
    record = household(client, sample_district["cadre1"])
    assert record["latest_assessment"]["grade"] == "D"
    assert record["fields"]["renovation_state"]["value"] == "building"
    assert record["latest_income"]["per_capita"] == 3600.0
    assert record["fields"]["income_year"]["value"] == "2025"
    codes = {f["code"] for f in record["flags"]}
    assert {"dangerous_house", "income_drop", "spending_jump"} <= codes
    assert not record["exit_eligible"]
    flagged = client.get("/api/v1/households?flag=income_drop", headers=sample_district["cadre1"]).get_json()
    assert [h["number"] for h in flagged["items"]] == [HH]


def test_member_changes_and_quality_findings(device, client, sample_district, reconcile):
    submit(device, visit_xml(HH, changes=[{"type": "death", "name": "宋建", "id_number": "21050419270224559X",
                                           "date": "2026-11-01"}], children=1))
    submit(device, income_xml(HH, size=2, reported_total=99999))
    reconcile()
    record = household(client, sample_district["cadre1"])
    assert [m["name"] for m in record["members"]] == ["郝福"]
    codes = {f["code"] for f in record["findings"]}
    assert {"size_mismatch", "income_total_mismatch", "children_count_mismatch"} <= codes
    quality = client.get("/api/v1/quality", headers=sample_district["cadre1"]).get_json()
    assert {f["code"] for f in quality["findings"] if f["household"] == HH} >= {"size_mismatch"}


def test_unknown_household_is_kept_and_listed(device, client, sample_district, reconcile, sessions):
    submit(device, visit_xml("2105049999999999"))
    reconcile()
    quality = client.get("/api/v1/quality", headers=sample_district["cadre1"]).get_json()
    assert [s["household"] for s in quality["unattached_submissions"]] == ["2105049999999999"]


def test_records_outside_the_callers_areas_are_404(device, client, sample_district, reconcile):
    submit(device, visit_xml(HH))
    reconcile()
    assert client.get(f"/api/v1/households/{HH}", headers=sample_district["cadre2"]).status_code == 404
    assert client.get(f"/api/v1/households/{HH}/events", headers=sample_district["cadre2"]).status_code == 404
    listed = client.get("/api/v1/households", headers=sample_district["cadre2"]).get_json()
    assert HH not in {h["number"] for h in listed["items"]} and listed["total"] > 0
    assert client.get(f"/api/v1/households/{OTHER}", headers=sample_district["cadre2"]).status_code == 200


def test_household_list_filters_by_area_and_status(client, sample_district, reconcile):
    reconcile()
    town = sample_district["town1"]
    everything = client.get("/api/v1/households?limit=1000", headers=town).get_json()
    village = client.get("/api/v1/households?area=210504001001&limit=1000", headers=town).get_json()
    assert 0 < village["total"] < everything["total"]
    assert {h["village_code"] for h in village["items"]} == {"210504001001"}
    monitored = client.get("/api/v1/households?status=监测户&limit=1000", headers=town).get_json()
    assert {h["status"] for h in monitored["items"]} == {"监测户"}


def test_households_csv_carries_the_reconciled_properties(device, client, sample_district, reconcile):
    submit(device, visit_xml(HH, water="no", grade="B", end="2026-11-20T10:00:00+08:00"))
    reconcile()
    import csv
    import io
    body = client.get("/forms/household_visit/attachments/households.csv", headers=sample_district["cadre1"])
    row = next(r for r in csv.DictReader(io.StringIO(body.get_data(as_text=True))) if r["name"] == HH)
    assert (row["water_safe"], row["housing_grade"], row["last_visit"], row["__version"]) == ("no", "B", "2026-11-20",
                                                                                               "2")


def snapshot(sessions):
    with session_scope(sessions) as session:
        records = {r.household_id: (r.fields, r.members, r.visits, r.assessments, r.incomes, r.events, r.version,
                                    r.size, r.exit_eligible, r.open_conflicts)
                   for r in session.scalars(select(HouseholdRecord))}
        visits = sorted((v.submission_id, v.household_id, v.visit_date, v.latitude)
                        for v in session.scalars(select(Visit)))
        conflicts = sorted((c.key, c.state, c.field) for c in session.scalars(select(Conflict)))
        findings = sorted((f.household_id, f.kind, f.code, f.message_en) for f in session.scalars(select(Finding)))
    return records, visits, conflicts, findings


def test_rebuild_equals_the_incremental_result(device, client, sample_district, reconcile, runner, sessions):
    submit(device, visit_xml(HH, water="no", base_version=1, end="2026-11-20T09:00:00+08:00"))
    submit(Collect(client, sample_district["town1"]), visit_xml(HH, water="yes", base_version=1,
                                                                 end="2026-11-20T11:00:00+08:00"))
    submit(device, assessment_xml(HH7, grade="C"))
    submit(device, income_xml(HH7, size=5))
    reconcile()
    incremental = snapshot(sessions)
    result = runner.invoke(args=["reconcile", "rebuild"])
    assert result.exit_code == 0, result.output
    assert "113 households" in result.output
    assert snapshot(sessions) == incremental


def test_the_in_process_worker_reconciles_within_a_second(tmp_path, database_url, sample_district, reconcile):
    from server.app import create_app
    reconcile()  # the roster import's jobs: the second measured is the submission's own
    from server.config import load_settings
    app = create_app(load_settings(env={}, data_dir=tmp_path / "worker", database_url=database_url,
                                   publish_bundled_forms=False, migrate_on_start=False, secret_key="k",
                                   worker="thread"))
    rt = app.extensions["zoufang"]
    collect = Collect(app.test_client(), sample_district["cadre1"])

    def applied_within(seconds: float, household: str, **answers) -> bool:
        instance_id = new_instance_id()
        started = time.monotonic()
        response = collect.submit(visit_xml(household, instance_id=instance_id, **answers))
        assert response.status_code == 201
        # as a WSGI server does once the answer is sent: until then the request counts as in flight, and the
        # worker waits for it (its patience, 0.5 s), which made this test fail on a slow machine
        response.close()
        query = select(Submission.reconcile_state).where(Submission.instance_id == instance_id)
        while time.monotonic() - started < seconds:
            with session_scope(rt.sessions) as session:
                if session.scalar(query) == "applied":
                    return True
            time.sleep(0.02)
        return False

    try:
        # the process's first reconcile sets up what later ones reuse (statements, rules); on a machine busy
        # with the other test process that alone took most of a second, so it is not the one measured
        assert applied_within(30, HH7)
        assert applied_within(1.0, HH, water="no")
    finally:
        rt.worker.stop()
        rt.worker.join(5)
        rt.engine.dispose()


def test_a_failing_job_is_retried_then_listed_and_the_submission_kept(device, client, sample_district, app,
                                                                      sessions, monkeypatch, admin, reconcile):
    import sync.jobs
    from sync.jobs import run_pending
    reconcile()  # the roster import's jobs
    submit(device, visit_xml(HH))
    monkeypatch.setattr(sync.jobs, "reconcile_households", lambda *a, **k: 1 / 0)
    rt = app.extensions["zoufang"]
    for _ in range(rt.queue.max_attempts):
        run_pending(rt.sessions, rt.queue)
        with session_scope(sessions) as session:  # skip the back-off wait
            for job in session.scalars(select(Job).where(Job.state == "queued")):
                job.run_after = job.created_at
    with session_scope(sessions) as session:
        job = session.scalar(select(Job))
        assert job.state == "failed" and job.attempts == rt.queue.max_attempts
        assert "ZeroDivisionError" in job.last_error
        assert session.scalar(select(func.count(Submission.id))) == 1
    failed = client.get("/api/v1/quality", headers=admin).get_json()["failed_jobs"]
    assert len(failed) == 1 and "ZeroDivisionError" in failed[0]["error"]
