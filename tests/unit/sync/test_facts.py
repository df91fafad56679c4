"""Reading the bundled forms' submissions into facts."""
import datetime as dt

from support import assessment_xml, income_xml, visit_xml
from sync.facts import Fact, read_fact

RECEIVED = dt.datetime(2026, 11, 25, tzinfo=dt.timezone.utc)


def test_visit_fact_has_fields_record_entity_and_time():
    fact = read_fact(visit_xml("111", instance_id="uuid:v", water="no", grade="C", house_safe="no", base_version=3,
                               trunk_version=3, branch_id="br", end="2026-11-20T10:00:00+08:00",
                               changes=[{"type": "birth", "name": "小明", "date": "2026-10-01"}]), RECEIVED)
    assert (fact.form, fact.instance_id, fact.household, fact.by) == ("household_visit", "uuid:v", "111", "cadre001")
    assert fact.observed_at == dt.datetime(2026, 11, 20, 2, tzinfo=dt.timezone.utc)
    assert (fact.entity_update, fact.base_version, fact.trunk_version, fact.branch_id) == (True, 3, 3, "br")
    assert fact.fields["water_safe"] == "no" and fact.fields["housing_grade"] == "C"
    assert fact.fields["housing_safe"] == "no" and fact.fields["last_visit"] == "2026-11-20"
    assert fact.record["gps"] == {"latitude": 41.296222, "longitude": 123.80102, "altitude": 100.0, "accuracy": 5.0}
    assert fact.member_changes == [{"type": "birth", "name": "小明", "relation": "other", "date": "2026-10-01",
                                    "id_number": None}]
    assert Fact.from_json(fact.to_json()) == fact


def test_assessment_of_a_b_house_clears_the_renovation_state():
    fact = read_fact(assessment_xml("111", grade="B"), RECEIVED)
    assert fact.fields["housing_grade"] == "B" and fact.fields["renovation_state"] == ""
    fact = read_fact(assessment_xml("111", grade="D", renovation_state="moved_in"), RECEIVED)
    assert fact.fields["renovation_state"] == "moved_in" and fact.fields["housing_safe"] == "yes"


def test_income_fact_keeps_parts_and_reported_totals():
    fact = read_fact(income_xml("111", year=2025, size=4, wage=1000, reported_total=5), RECEIVED)
    assert fact.fields == {}
    assert fact.record["year"] == 2025 and fact.record["household_size"] == 4
    assert fact.record["parts"]["wage_income"] == 1000 and fact.record["reported_total_net"] == 5


def test_observation_time_falls_back_to_the_date_question_then_receipt():
    xml = visit_xml("111", end="", visit_date="2026-11-25").replace(b"<start></start>", b"<start/>")
    fact = read_fact(xml.replace(b"<end></end>", b"<end/>"), RECEIVED)
    assert fact.observed_at == dt.datetime(2026, 11, 25, 4, tzinfo=dt.timezone.utc)  # visit_date at noon, UTC+8
    unknown = b'<data id="other_form"><meta><instanceID>u</instanceID></meta></data>'
    fact = read_fact(unknown, RECEIVED)
    assert fact.observed_at == RECEIVED and fact.fields == {} and fact.household is None
