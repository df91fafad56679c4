"""Reading the bundled forms' submissions into facts."""
import datetime as dt
import math

import pytest

from support import assessment_xml, income_xml, visit_xml
from sync.facts import READER, Fact, as_received, cached_fact, read_fact
from sync.values import MAX_TEXT

RECEIVED = dt.datetime(2026, 11, 25, tzinfo=dt.timezone.utc)


def test_visit_fact_has_fields_record_entity_and_time():
    fact = read_fact(visit_xml("111", instance_id="uuid:v", water="no", grade="C", house_safe="no", base_version=3,
                               trunk_version=3, branch_id="br", end="2026-11-20T10:00:00+08:00",
                               changes=[{"type": "birth", "name": "小明", "date": "2026-10-01"}]), RECEIVED)
    # who sent it is the account, which only the reconciler knows; the form names nobody (issue 17 item 12)
    assert (fact.form, fact.instance_id, fact.household, fact.by) == ("household_visit", "uuid:v", "111", None)
    assert "visitor" not in fact.record and fact.record["outcome"] == "visited"
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
    fact = read_fact(assessment_xml("111", grade="D", renovation_state="old_dealt"), RECEIVED)
    assert fact.fields["renovation_state"] == "old_dealt" and fact.fields["housing_safe"] == "yes"


def test_a_family_moved_in_with_the_old_house_standing_is_not_safe_yet():
    """DOMAIN.md Precisions: "Renovation ends only when both hold: the family has moved in and the old house is
    dealt with (建新拆旧, 防止"两头住", 004)"; read from the answers, so an older version's "moved in, safe" is
    judged again by this rule."""
    fact = read_fact(assessment_xml("111", grade="D", renovation_state="moved_in", mode="ex_situ"), RECEIVED)
    assert fact.fields["renovation_state"] == "moved_in" and fact.fields["housing_safe"] == "no"
    older = assessment_xml("111", grade="D", renovation_state="moved_in", mode="relocate")
    older = older.replace(b"<housing_safe>no</housing_safe>", b"<housing_safe>yes</housing_safe>")
    assert read_fact(older, RECEIVED).fields["housing_safe"] == "no"
    repaired = read_fact(assessment_xml("111", grade="C", renovation_state="moved_in", mode="repair"), RECEIVED)
    assert repaired.fields["renovation_state"] == "old_dealt" and repaired.fields["housing_safe"] == "yes"
    assert repaired.record["renovation_mode"] == "repair"


def test_nobody_at_home_is_an_attempt_that_observes_nothing():
    """DOMAIN.md Precisions: "A visit may also find nobody home (失联/不在家): that is recorded as such, without a
    family photo, and counts as an attempt, not a visit"."""
    fact = read_fact(visit_xml("111", outcome="not_home", photo=""), RECEIVED)
    assert fact.fields == {} and fact.member_changes == []
    assert fact.record["outcome"] == "not_home" and fact.record["absent_note"] == "外出务工"
    assert fact.record["date"] == "2026-11-20" and fact.record["gps"]["accuracy"] == 5.0
    assert fact.record["photos"] == {}


def test_chronic_signing_is_kept_and_counts_only_when_required():
    """DOMAIN.md Precisions, Medical: "family-doctor signing is required for chronic or special-disease patients
    who are at home and willing (在家且有签约意愿, 004), not for everyone"."""
    away = read_fact(visit_xml("111", chronic="not_required"), RECEIVED)
    assert away.record["chronic_signed"] == "not_required" and away.fields["medical_secure"] == "yes"
    unsigned = read_fact(visit_xml("111", chronic="no"), RECEIVED)
    assert unsigned.record["chronic_signed"] == "no" and unsigned.fields["medical_secure"] == "no"


def test_help_given_is_a_list_of_measures_and_an_older_free_text_is_kept_as_the_note():
    """DOMAIN.md Precisions: "Help given is a concrete measure (job referral, subsidy applied for, repair
    arranged…), never gifts"."""
    fact = read_fact(visit_xml("111", problems="income", help_given="job aid"), RECEIVED)
    assert fact.record["help_given"] == ["job", "aid"] and fact.findings == []
    older = read_fact(visit_xml("111", problems="income", help_given="协助申请公益岗位"), RECEIVED)
    assert older.record["help_given"] == [] and older.record["help_note"] == "协助申请公益岗位"
    assert older.findings == []


def test_the_water_source_is_kept_for_the_tap_and_central_supply_rates():
    """DOMAIN.md Precisions, Water: "the source type (集中供水 / 分散供水, 自来水) is needed for the targets
    自来水普及率 ≥ 85% and 集中供水率 ≥ 90% (000)"."""
    fact = read_fact(visit_xml("111", water_source="scattered_tap"), RECEIVED)
    assert fact.record["water_source"] == fact.fields["water_source"] == "scattered_tap"


def test_dividends_are_property_income_and_older_surveys_keep_theirs():
    """issue 14 item 10: 资产收益分红 counts as 财产性收入; a survey of the version that asked it among the transfers
    keeps its amount."""
    fact = read_fact(income_xml("111", dividends=600), RECEIVED)
    assert fact.record["parts"]["dividends"] == 600
    older = income_xml("111", dividends=0).replace(b"<dividends>0</dividends>", b"").replace(
        b"<dibao>0</dibao>", b"<dibao>0</dibao><dividends>450</dividends>")
    assert read_fact(older, RECEIVED).record["parts"]["dividends"] == 450


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


# ---- values out of range: a finding on the submission, left out of the fact (DOMAIN.md "Data quality": errors
# are found and listed for correction) -----------------------------------------------------------------------

def findings_on(fact, field):
    return [f for f in fact.findings if f["code"] == "value_out_of_range" and f["details"]["field"] == field]


@pytest.mark.parametrize("gps", ["999 0 0 3", "0 999 0 3", "nan nan 0 0", "inf 0 0 0", "41.3 -inf 0 0", "1e400 0",
                                 "a b c d", "41.3"])
def test_a_gps_point_off_the_globe_is_left_out_with_a_finding(gps):
    fact = read_fact(visit_xml("111", instance_id="uuid:g", gps=gps), RECEIVED)
    assert fact.record["gps"] is None
    [finding] = findings_on(fact, "gps")
    assert finding["details"]["instance_id"] == "uuid:g" and finding["message_zh"] and finding["message_en"]


@pytest.mark.parametrize("gps, altitude, accuracy", [("41.3 123.8 nan 5", None, 5.0),
                                                      ("41.3 123.8 100 -5", 100.0, None),
                                                      ("41.3 123.8 100 inf", 100.0, None)])
def test_an_unreadable_altitude_or_accuracy_is_left_out_and_the_point_kept(gps, altitude, accuracy):
    fact = read_fact(visit_xml("111", gps=gps), RECEIVED)
    assert fact.record["gps"] == {"latitude": 41.3, "longitude": 123.8, "altitude": altitude, "accuracy": accuracy}
    assert findings_on(fact, "gps")


@pytest.mark.parametrize("end", ["9999-12-31T23:00-10:00", "0001-01-01+08:00", "0001-01-01T00:00:00+14:00",
                                 "1899-12-31T10:00:00+08:00", "never"])
def test_a_time_that_cannot_be_put_in_utc_falls_back_to_the_date_question(end):
    xml = visit_xml("111", end=end, visit_date="2026-11-20")
    fact = read_fact(xml, RECEIVED)
    assert fact.observed_at == dt.datetime(2026, 11, 20, 4, tzinfo=dt.timezone.utc)
    assert findings_on(fact, "end") and findings_on(fact, "start")
    assert Fact.from_json(fact.to_json()) == fact


@pytest.mark.parametrize("day", ["2099-01-01", "1899-12-31", "2026-02-30", "9999-99-99"])
def test_a_date_that_is_no_date_of_the_programme_is_left_out(day):
    fact = read_fact(visit_xml("111", visit_date=day), RECEIVED)
    assert "last_visit" not in fact.fields and fact.record["date"] is None
    assert findings_on(fact, "visit_date")


@pytest.mark.parametrize("wage", ["inf", "nan", "-inf", "1e308", "-5", "1" + "0" * 400])
def test_an_income_part_that_is_not_a_sum_of_money_is_left_out(wage):
    fact = read_fact(income_xml("111", wage=0).replace(b"<wage_income>0</wage_income>",
                                                       f"<wage_income>{wage}</wage_income>".encode()), RECEIVED)
    assert fact.record["parts"]["wage_income"] == 0.0
    assert findings_on(fact, "income/wage_income")
    assert all(math.isfinite(v) for v in fact.record["parts"].values())


@pytest.mark.parametrize("size", ["-1", "0", "101", "1e3", "9" * 5000, "nan"])
def test_a_household_size_out_of_range_is_left_out(size):
    fact = read_fact(income_xml("111").replace(b"<household_size>2</household_size>",
                                               f"<household_size>{size}</household_size>".encode()), RECEIVED)
    assert fact.record["household_size"] is None and findings_on(fact, "household_size")


def test_a_choice_the_form_does_not_offer_is_not_a_household_field():
    fact = read_fact(visit_xml("111", water="maybe", grade="Z", problems="none 食物"), RECEIVED)
    assert "water_safe" not in fact.fields and "housing_grade" not in fact.fields
    assert fact.record["problems"] == ["none"]
    assert findings_on(fact, "water/water_safe") and findings_on(fact, "two_assurances/housing_grade")


def test_long_text_is_cut_with_a_finding():
    xml = visit_xml("111").replace(b"<remarks/>", b"<remarks>" + "长".encode() * 100_000 + b"</remarks>")
    fact = read_fact(xml, RECEIVED)
    assert len(fact.record["remarks"]) == MAX_TEXT and findings_on(fact, "remarks")


def test_entity_versions_beyond_the_database_column_are_left_out():
    fact = read_fact(visit_xml("111", base_version=2**40), RECEIVED)
    assert fact.base_version is None and findings_on(fact, "meta/entity@baseVersion")


def test_a_member_change_with_a_bad_date_keeps_the_change_without_the_date():
    fact = read_fact(visit_xml("111", changes=[{"type": "birth", "name": "小明", "date": "0000-13-45"}]), RECEIVED)
    assert fact.member_changes[0]["date"] is None and findings_on(fact, "member_change/change_date")


# ---- the cache and the reconciler's view of a fact --------------------------------------------------------

def test_a_fact_cached_by_the_older_reader_is_read_again():
    fact = read_fact(visit_xml("111"), RECEIVED)
    assert cached_fact(fact.to_json()) == fact
    old = {k: v for k, v in fact.to_json().items() if k not in ("reader", "findings")}  # as cached before
    assert cached_fact(old) is None and cached_fact(None) is None
    assert cached_fact({"reader": READER, "form": "x"}) is None  # damaged


def test_the_account_is_who_sent_it_whatever_the_form_says():
    fact = read_fact(visit_xml("111", username="username not found"), RECEIVED)
    received = as_received(fact, "cadre001", RECEIVED, dt.timedelta(minutes=10))
    assert received.by == "cadre001" and "username not found" not in str(received.record)


def test_a_form_filled_after_it_arrived_counts_as_filled_when_it_arrived():
    """DESIGN.md: newer observations (by the time the form was filled) win, so a time in the future would pin
    its values over every genuine visit until then."""
    skew = dt.timedelta(minutes=10)
    future = read_fact(visit_xml("111", instance_id="uuid:f", end="2099-01-01T10:00:00+08:00",
                                 visit_date="2026-11-25"), RECEIVED)
    clamped = as_received(future, "c", RECEIVED, skew)
    assert clamped.observed_at == RECEIVED + skew
    [finding] = [f for f in clamped.findings if f["code"] == "observed_in_future"]
    assert finding["details"]["instance_id"] == "uuid:f" and finding["message_zh"] and finding["message_en"]
    within = read_fact(visit_xml("111", end=(RECEIVED + skew).isoformat()), RECEIVED)
    assert as_received(within, "c", RECEIVED, skew).observed_at == RECEIVED + skew
    assert as_received(within, "c", RECEIVED, skew).findings == []
