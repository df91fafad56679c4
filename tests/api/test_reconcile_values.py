"""Bad values, times and names in submissions, through the app: none stops a household's record, none is
believed over the server's own knowledge (when a form arrived, which account sent it)."""
import datetime as dt

import pytest
from sqlalchemy import select, update

from server.config import load_settings
from server.db import session_scope
from support import Collect, income_xml, new_instance_id, visit_xml
from sync.models import Job, Submission

HH = "2105040010010001"        # village 1
HH7 = "2105040010010007"       # village 1


@pytest.fixture
def device(client, sample_district):
    return Collect(client, sample_district["cadre1"])


def submit(device, xml):
    response = device.submit(xml)
    assert response.status_code == 201, response.get_data(as_text=True)


def household(client, headers, number=HH):
    response = client.get(f"/api/v1/households/{number}", headers=headers)
    assert response.status_code == 200, response.get_data(as_text=True)
    return response.get_json()


def jobs_left(sessions):
    with session_scope(sessions) as session:
        return session.execute(select(Job.state, Job.attempts, Job.last_error)).all()


def states(sessions):
    with session_scope(sessions) as session:
        return dict(session.execute(select(Submission.instance_id, Submission.reconcile_state)).all())


BAD_VISITS = {
    "gps off the globe": dict(gps="999 0 0 3"),
    "gps not a number": dict(gps="nan nan 0 0"),
    "gps infinite": dict(gps="inf -inf 0 0"),
    "end overflows UTC upwards": dict(end="9999-12-31T23:00-10:00", visit_date="2026-11-19"),
    "end overflows UTC downwards": dict(end="0001-01-01T00:00:00+14:00", visit_date="2026-11-19"),
    "ID number with no birth date": dict(changes=[{"type": "moved_in", "name": "新人",
                                                   "id_number": "210504999999999999"}]),
}


@pytest.mark.parametrize("bad", BAD_VISITS.values(), ids=BAD_VISITS.keys())
def test_a_bad_value_is_a_finding_and_does_not_block_the_household(device, client, sample_district, reconcile,
                                                                   sessions, bad):
    bad_id, good_id = new_instance_id(), new_instance_id()
    submit(device, visit_xml(HH, instance_id=bad_id, water="no", end=bad.pop("end", "2026-11-19T10:00:00+08:00"),
                             **bad))
    reconcile()
    submit(device, visit_xml(HH, instance_id=good_id, water="yes", end="2026-11-20T10:00:00+08:00"))
    reconcile()
    assert jobs_left(sessions) == []  # nothing failed, nothing waits for a retry
    assert states(sessions) == {bad_id: "applied", good_id: "applied"}
    record = household(client, sample_district["cadre1"])
    assert record["fields"]["water_safe"]["instance_id"] == good_id
    assert record["latest_visit"]["instance_id"] == good_id


def test_entity_versions_beyond_the_database_columns_are_left_out(device, client, sample_district, reconcile,
                                                                    sessions):
    """Two edits from the same version that disagree open a conflict, stored with that version (an integer
    column: on PostgreSQL 2**40 made the whole write fail)."""
    a, b = new_instance_id(), new_instance_id()
    submit(device, visit_xml(HH, instance_id=a, water="no", base_version=2**40, end="2026-11-19T10:00:00+08:00"))
    submit(device, visit_xml(HH, instance_id=b, water="yes", base_version=2**40, end="2026-11-20T10:00:00+08:00"))
    reconcile()
    assert jobs_left(sessions) == [] and states(sessions) == {a: "applied", b: "applied"}
    record = household(client, sample_district["cadre1"])
    assert record["fields"]["water_safe"]["instance_id"] == b and record["conflicts"] == []
    assert {f["details"]["field"] for f in record["findings"] if f["code"] == "value_out_of_range"} == {
        "meta/entity@baseVersion"}


def test_an_out_of_range_value_is_listed_on_the_record_with_its_submission(device, client, sample_district,
                                                                          reconcile):
    bad_id = new_instance_id()
    submit(device, visit_xml(HH, instance_id=bad_id, gps="999 0 0 3"))
    submit(device, income_xml(HH, wage=0).replace(b"<wage_income>0</wage_income>", b"<wage_income>inf</wage_income>"))
    reconcile()
    record = household(client, sample_district["cadre1"])
    found = [f for f in record["findings"] if f["code"] == "value_out_of_range"]
    assert {f["details"]["field"] for f in found} == {"gps", "income/wage_income"}
    gps = next(f for f in found if f["details"]["field"] == "gps")
    assert gps["details"]["instance_id"] == bad_id and "999 0 0 3" in gps["message_en"] and gps["message_zh"]
    assert record["latest_visit"]["gps"] is None
    assert record["latest_income"]["parts"]["wage_income"] == 0.0


def test_rebuild_goes_on_and_lists_what_it_skipped(device, client, sample_district, reconcile, runner, sessions):
    bad_id, broken_id = new_instance_id(), new_instance_id()
    submit(device, visit_xml(HH, instance_id=bad_id, gps="999 0 0 3", end="9999-12-31T23:00-10:00"))
    submit(device, visit_xml(HH7, instance_id=broken_id))
    reconcile()
    with session_scope(sessions) as session:  # XML stored by an older server that this one cannot read
        session.execute(update(Submission).where(Submission.instance_id == broken_id).values(xml=b"<data"))
    result = runner.invoke(args=["reconcile", "rebuild"])
    assert result.exit_code == 0, result.output
    assert "rebuilt 113 households" in result.output
    listed = result.output.split("skipped", 1)[1]
    assert f"{HH} {bad_id}" in listed and f"{HH7} {broken_id}" in listed
    assert states(sessions)[broken_id] == "unreadable" and states(sessions)[bad_id] == "applied"
    [unreadable] = [f for f in household(client, sample_district["cadre1"], HH7)["findings"]
                    if f["code"] == "submission_unreadable"]
    assert unreadable["details"]["instance_id"] == broken_id and unreadable["message_zh"]


def test_facts_cached_by_the_older_reader_are_read_again(device, client, sample_district, reconcile, sessions):
    instance_id = new_instance_id()
    submit(device, visit_xml(HH, instance_id=instance_id, gps="999 0 0 3"))
    cached_before = {"form": "household_visit", "instance_id": instance_id, "household": HH,
                     "observed_at": "2026-11-20T02:00:00+00:00", "by": "username not found", "entity_update": True,
                     "base_version": 1, "trunk_version": None, "branch_id": None, "fields": {"water_safe": "no"},
                     "record": {"date": "2026-11-20", "gps": {"latitude": 999.0, "longitude": 0.0, "altitude": 0.0,
                                                             "accuracy": 3.0}},
                     "member_changes": []}
    with session_scope(sessions) as session:
        session.execute(update(Submission).values(facts=cached_before))
    reconcile()
    assert jobs_left(sessions) == []
    record = household(client, sample_district["cadre1"])
    assert record["latest_visit"]["gps"] is None and record["latest_visit"]["by"] == "cadre001"


def test_a_household_whose_fold_fails_is_reported_and_the_others_are_written(device, client, sample_district,
                                                                              reconcile, sessions, monkeypatch):
    import sync.reconcile
    fold = sync.reconcile.fold

    def fails_for_hh(baseline, *args):
        if baseline.number == HH:
            raise RuntimeError("a bug met by this household's data")
        return fold(baseline, *args)
    reconcile()  # the roster import's jobs
    monkeypatch.setattr(sync.reconcile, "fold", fails_for_hh)
    stuck, fine = new_instance_id(), new_instance_id()
    submit(device, visit_xml(HH, instance_id=stuck))
    submit(device, visit_xml(HH7, instance_id=fine, water="no"))
    reconcile()
    [(state, attempts, error)] = jobs_left(sessions)  # failed at once: the same data fails the same way
    assert state == "failed" and attempts == 1 and "a bug met by this household's data" in error
    assert states(sessions) == {stuck: "failed", fine: "applied"}
    assert household(client, sample_district["cadre1"], HH7)["fields"]["water_safe"]["instance_id"] == fine


def test_a_visit_dated_in_the_future_does_not_pin_its_values(device, client, sample_district, reconcile, sessions):
    """DESIGN.md: newer observations, by the time the form was filled, win per field — so a time beyond the
    arrival counts as the arrival."""
    future, genuine = new_instance_id(), new_instance_id()
    now = dt.datetime.now(dt.timezone.utc)
    submit(device, visit_xml(HH, instance_id=future, water="no", end="2099-01-01T10:00:00+08:00",
                             visit_date=(now - dt.timedelta(days=1)).date().isoformat()))
    with session_scope(sessions) as session:  # it arrived yesterday
        session.execute(update(Submission).values(received_at=now - dt.timedelta(days=1)))
    reconcile()
    submit(device, visit_xml(HH, instance_id=genuine, water="yes", end=now.isoformat(),
                             visit_date=now.date().isoformat()))
    reconcile()
    record = household(client, sample_district["cadre1"])
    assert record["fields"]["water_safe"]["instance_id"] == genuine
    [finding] = [f for f in record["findings"] if f["code"] == "observed_in_future"]
    assert finding["details"]["instance_id"] == future and finding["details"]["claimed"].startswith("2099-01-01")
    assert finding["message_zh"] and finding["message_en"]


def test_the_clock_skew_comes_from_the_environment(tmp_path):
    assert load_settings(env={"ZOUFANG_CLOCK_SKEW_SECONDS": "3600"}, data_dir=tmp_path,
                         secret_key="k").clock_skew_seconds == 3600
    assert load_settings(env={}, data_dir=tmp_path, secret_key="k").clock_skew_seconds == 600


@pytest.mark.parametrize("settings_overrides", [{"clock_skew_seconds": 3600}])
def test_the_clock_skew_is_a_setting(device, client, sample_district, reconcile, settings_overrides):
    ahead = dt.datetime.now(dt.timezone.utc) + dt.timedelta(minutes=30)
    submit(device, visit_xml(HH, end=ahead.isoformat(), visit_date=ahead.date().isoformat()))
    reconcile()
    record = household(client, sample_district["cadre1"])
    assert dt.datetime.fromisoformat(record["fields"]["water_safe"]["at"]) == ahead
    assert not [f for f in record["findings"] if f["code"] == "observed_in_future"]


def test_values_are_attributed_to_the_account_not_the_forms_user_name(device, client, sample_district, reconcile):
    """Enketo on a token URL sends <username>username not found</username>; a phone may send anybody's name."""
    mine, theirs = new_instance_id(), new_instance_id()
    submit(device, visit_xml(HH, instance_id=mine, grade="B", username="username not found",
                             end="2026-11-20T09:00:00+08:00"))
    submit(Collect(client, sample_district["town1"]),
           visit_xml(HH, instance_id=theirs, grade="C", house_safe="no", username="cadre001",
                     end="2026-11-20T15:00:00+08:00"))
    reconcile()
    record = household(client, sample_district["town1"])
    assert record["fields"]["housing_grade"]["by"] == "town1"
    assert record["fields"]["food_secure"]["by"] == "town1"
    # the form names nobody: the author is the account (issue 17 item 12)
    assert record["latest_visit"]["by"] == "town1" and "cadre001" not in str(record["latest_visit"])
    events = client.get(f"/api/v1/households/{HH}/events", headers=sample_district["town1"]).get_json()
    assert {e["instance_id"]: e["by"] for e in events if e["kind"] == "household_visit"} == {mine: "cadre001",
                                                                                          theirs: "town1"}
    [grade] = [c for c in record["conflicts"] if c["field"] == "housing_grade"]
    assert {e["instance_id"]: e["by"] for e in grade["entries"]} == {mine: "cadre001", theirs: "town1"}
