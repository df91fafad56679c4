"""The fold: order independence (property-based), newest-wins, conflicts, resolutions, member changes, holds."""
import dataclasses
import datetime as dt

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from sync.facts import Fact
from sync.fold import Baseline, Resolution, conflict_key, fold
from sync.reconcile import ReconcileOptions, _held
from sync.rules import load_rules

RULES = load_rules()
TODAY = dt.date(2026, 11, 25)
T0 = dt.datetime(2026, 1, 1, tzinfo=dt.timezone.utc)
BASELINE = Baseline(number="H1", status="已脱贫", members=[
    {"name": "户主", "id_number": "210504194707180878", "relation": "户主", "birth_date": "1947-07-18",
     "schooling": "非在校生"},
    {"name": "孩子", "id_number": "21050420150101001X", "relation": "之子", "birth_date": "2015-01-01",
     "schooling": "义务教育"}])


def fact(instance_id, minutes, form="household_visit", fields=None, base=1, update=True, record=None, changes=(),
         branch=None, trunk=None):
    return Fact(form=form, instance_id=instance_id, household="H1", observed_at=T0 + dt.timedelta(minutes=minutes),
                by="c", entity_update=update, base_version=base, trunk_version=trunk, branch_id=branch,
                fields=fields or {}, record=record or {}, member_changes=list(changes))


YES_NO = st.sampled_from(["yes", "no"])
visit_fields = st.fixed_dictionaries({}, optional={"water_safe": YES_NO, "food_secure": YES_NO,
                                                   "housing_grade": st.sampled_from("ABCD"),
                                                   "last_visit": st.sampled_from(["2026-01-02", "2026-02-03"])})
income_record = st.builds(lambda year, size, wage, medical: {
    "year": year, "household_size": size, "parts": {"wage_income": wage}, "spending": {"spend_medical": medical},
    "reported_total_net": float(wage)}, st.integers(2023, 2025), st.integers(1, 5),
    st.integers(0, 30000), st.integers(0, 40000))
change = st.fixed_dictionaries({"type": st.sampled_from(["birth", "death", "moved_out", "moved_in"]),
                                "name": st.sampled_from(["孩子", "新人", "户主"]), "relation": st.just("other"),
                                "date": st.just("2026-01-05"),
                                "id_number": st.sampled_from([None, "21050420150101001X"])})


@st.composite
def facts(draw):
    count = draw(st.integers(1, 12))
    minutes = draw(st.lists(st.integers(0, 50), min_size=count, max_size=count))  # ties happen on purpose
    out = []
    for i, at in enumerate(minutes):
        form = draw(st.sampled_from(["household_visit", "housing_assessment", "income_survey"]))
        base = draw(st.integers(1, 3))
        if form == "income_survey":
            out.append(fact(f"uuid:{i:03d}", at, form, base=base, record=draw(income_record)))
        elif form == "housing_assessment":
            out.append(fact(f"uuid:{i:03d}", at, form, base=base,
                            fields={"housing_grade": draw(st.sampled_from("ABCD")),
                                    "renovation_state": draw(st.sampled_from(["", "planned", "moved_in"]))}))
        else:
            out.append(fact(f"uuid:{i:03d}", at, form, base=base, fields=draw(visit_fields),
                            record={"date": "2026-01-02", "children_6_15": draw(st.integers(0, 2))},
                            changes=draw(st.lists(change, max_size=2))))
    return out


@settings(max_examples=300, deadline=None)
@given(facts(), st.randoms(use_true_random=False))
def test_any_arrival_order_gives_the_same_record(items, rng):
    expected = fold(BASELINE, items, [], RULES, TODAY)
    shuffled = list(items)
    rng.shuffle(shuffled)
    assert fold(BASELINE, shuffled, [], RULES, TODAY) == expected


@settings(max_examples=100, deadline=None)
@given(facts())
def test_applying_a_fact_twice_is_applying_it_once(items):
    """The store keeps one row per instance; the fold over a set is the same as over the set plus a repeat."""
    once = fold(BASELINE, items, [], RULES, TODAY)
    by_id = {f.instance_id: f for f in items + items[:1]}
    assert fold(BASELINE, list(by_id.values()), [], RULES, TODAY) == once


def test_newest_observation_wins_per_field():
    old = fact("uuid:old", 10, fields={"water_safe": "no", "food_secure": "no"})
    new = fact("uuid:new", 20, fields={"water_safe": "yes"})
    record = fold(BASELINE, [new, old], [], RULES, TODAY)
    assert record.value("water_safe") == "yes" and record.fields["water_safe"]["instance_id"] == "uuid:new"
    assert record.value("food_secure") == "no"  # only the old one observed it


def test_same_base_different_values_open_a_conflict_and_a_resolution_settles_it():
    a = fact("uuid:a", 10, fields={"housing_grade": "B"}, base=4)
    b = fact("uuid:b", 20, fields={"housing_grade": "C"}, base=4)
    record = fold(BASELINE, [a, b], [], RULES, TODAY)
    [conflict] = record.conflicts
    assert conflict["state"] == "open" and conflict["field"] == "housing_grade"
    assert conflict["key"] == conflict_key("H1", "housing_grade", 4, ["uuid:b", "uuid:a"])
    assert record.value("housing_grade") == "C"  # deterministic meanwhile: the newer one
    resolution = Resolution(conflict["key"], "housing_grade", "B", "sup", T0 + dt.timedelta(hours=1))
    settled = fold(BASELINE, [a, b], [resolution], RULES, TODAY)
    assert settled.conflicts[0]["state"] == "resolved" and settled.value("housing_grade") == "B"
    assert settled.events[-1]["kind"] == "conflict_resolved"
    later = fact("uuid:later", 200, fields={"housing_grade": "A"}, base=6)
    assert fold(BASELINE, [a, b, later], [resolution], RULES, TODAY).value("housing_grade") == "A"


def test_same_values_or_different_bases_are_not_conflicts():
    same = [fact("uuid:a", 1, fields={"water_safe": "yes"}, base=2), fact("uuid:b", 2, fields={"water_safe": "yes"})]
    apart = [fact("uuid:c", 1, fields={"water_safe": "no"}, base=2), fact("uuid:d", 2, fields={"water_safe": "yes"},
                                                                       base=3)]
    assert fold(BASELINE, same, [], RULES, TODAY).conflicts == []
    assert fold(BASELINE, apart, [], RULES, TODAY).conflicts == []


def test_a_newer_version_supersedes_an_open_conflict():
    items = [fact("uuid:a", 1, fields={"water_safe": "no"}, base=2), fact("uuid:b", 2, fields={"water_safe": "yes"},
                                                                           base=2),
             fact("uuid:c", 3, fields={"water_safe": "yes"}, base=4)]
    assert fold(BASELINE, items, [], RULES, TODAY).conflicts[0]["state"] == "superseded"


def test_member_changes_add_and_remove_members_as_events():
    birth = {"type": "birth", "name": "新生儿", "relation": "之孙子", "date": "2026-01-03", "id_number": None}
    death = {"type": "death", "name": "户主", "relation": "户主", "date": "2026-01-04",
             "id_number": "210504194707180878"}
    record = fold(BASELINE, [fact("uuid:v", 5, changes=[birth, death])], [], RULES, TODAY)
    assert [m["name"] for m in record.members] == ["孩子", "新生儿"]
    assert record.members[1]["birth_date"] == "2026-01-03" and record.members[1]["source"] == "uuid:v"
    assert [e["kind"] for e in record.events] == ["household_visit", "member_added", "member_removed"]
    unknown = {"type": "moved_out", "name": "不存在", "relation": "other", "date": "2026-01-04", "id_number": None}
    assert fold(BASELINE, [fact("uuid:w", 5, changes=[unknown])], [], RULES, TODAY).findings[0]["code"] == \
        "member_change_unknown"


def test_the_newest_survey_of_a_year_counts_and_line_crossings_are_events():
    def survey(instance_id, minutes, year, wage):
        return fact(instance_id, minutes, "income_survey", record={
            "year": year, "household_size": 1, "parts": {"wage_income": wage}, "spending": {}})
    record = fold(BASELINE, [survey("uuid:1", 1, 2024, 9000), survey("uuid:2", 2, 2025, 3000),
                             survey("uuid:3", 3, 2025, 4000)], [], RULES, TODAY)
    assert [i["per_capita"] for i in record.incomes] == [9000, 4000]
    assert record.value("income_per_capita") == 4000 and record.value("income_year") == "2025"
    # DOMAIN.md Precisions: "After 2020 the figure in force is a monitoring range (监测范围), not a poverty line"
    # (000): 2025's crossing says so
    assert [e["kind"] for e in record.events if e["kind"].startswith("income_")] == ["income_survey"] * 3 + [
        "income_into_monitoring_range"]


def test_a_crossing_up_to_2020_is_of_the_poverty_line_and_after_of_the_monitoring_range():
    """DOMAIN.md Precisions: "3,247 yuan is the 2018 line in one district (000). After 2020 the figure in force is
    a monitoring range (监测范围), not a poverty line"."""
    def survey(instance_id, minutes, year, wage):
        return fact(instance_id, minutes, "income_survey", record={
            "year": year, "household_size": 1, "parts": {"wage_income": wage}, "spending": {}})
    crossings = [e for e in fold(BASELINE, [survey("uuid:1", 1, 2017, 3000), survey("uuid:2", 2, 2018, 3248),
                                            survey("uuid:3", 3, 2019, 3000), survey("uuid:4", 4, 2021, 7000),
                                            survey("uuid:5", 5, 2022, 5000)], [], RULES, TODAY).events
                 if e["kind"] != "income_survey"]
    assert [(e["kind"], e["summary"]["year"]) for e in crossings] == [
        ("income_above_line", 2018), ("income_below_line", 2019), ("income_out_of_monitoring_range", 2021),
        ("income_into_monitoring_range", 2022)]
    assert crossings[0]["summary"]["line"] == 3247


def test_offline_chain_holds_until_its_predecessor_arrives_or_the_hold_passes():
    options = ReconcileOptions(rules=RULES, hold=dt.timedelta(days=5), now=T0 + dt.timedelta(days=1))
    first = (fact("uuid:1", 1, base=3, trunk=3, branch="b"), T0, 1, None)
    second = (fact("uuid:2", 2, base=4, trunk=3, branch="b"), T0, 2, None)
    third = (fact("uuid:3", 3, base=5, trunk=3, branch="b"), T0, 3, None)
    assert set(_held([second, third], options)) == {2, 3}
    assert _held([first, second, third], options) == {}
    assert set(_held([first, third], options)) == {3}
    late = ReconcileOptions(rules=RULES, hold=dt.timedelta(days=5), now=T0 + dt.timedelta(days=6))
    assert _held([second, third], late) == {}


def test_a_submissions_own_findings_are_in_the_record():
    """DOMAIN.md "Data quality": errors are found and listed for correction — a value the reader left out too."""
    finding = {"code": "value_out_of_range", "message_zh": "…", "message_en": "…",
               "details": {"instance_id": "uuid:bad", "field": "gps"}}
    bad = dataclasses.replace(fact("uuid:bad", 5, fields={"water_safe": "no"}), findings=[finding])
    record = fold(BASELINE, [bad, fact("uuid:ok", 6)], [], RULES, TODAY)
    assert finding in record.findings and record.value("water_safe") == "no"


@pytest.mark.parametrize("id_number", ["210504XXXXXXXXXXXX", "210504199913450011", "210504000000000011"])
def test_a_member_added_with_an_id_number_that_holds_no_birth_date_has_none(id_number):
    """Ages come from birth dates (DOMAIN.md "Data quality": ages vs schooling); a made-up one used to stop the
    household's record."""
    moved_in = {"type": "moved_in", "name": "新人", "relation": "other", "date": "2026-01-03", "id_number": id_number}
    record = fold(BASELINE, [fact("uuid:v", 5, changes=[moved_in])], [], RULES, TODAY)
    assert record.members[-1]["name"] == "新人" and record.members[-1]["birth_date"] is None


def test_the_record_keeps_the_monitoring_subtype_and_flags_each_gap():
    """DOMAIN.md Precisions: "Monitoring subtypes are kept, not folded" and "A 三保障 or water gap in an exited
    household is a risk (致贫返贫风险), not only low income" — in the record that fold() makes."""
    baseline = Baseline(number="H1", status="监测户", members=[], monitoring_type="脱贫不稳定户")
    record = fold(baseline, [fact("uuid:v", 1, fields={"water_safe": "no", "water_quality": "no",
                                                        "education_secure": "no", "medical_secure": "yes"})],
                  [], RULES, TODAY)
    assert record.fields["monitoring_type"] == {"value": "脱贫不稳定户", "source": "roster"}
    assert [(f["code"], f["details"]) for f in record.flags] == [
        ("risk_education", {"field": "education_secure"}),
        ("risk_water", {"field": "water_safe", "indicators": ["water_quality"]})]
    assert "monitoring_type" not in fold(BASELINE, [], [], RULES, TODAY).fields


def test_the_exit_judgement_of_a_record_without_income_is_none():
    """DOMAIN.md:61 exit standard: per-capita income above the line and 两不愁三保障 met — never surveyed is 无法判断,
    not 否 (issue 14 item 12)."""
    all_met = {name: "yes" for name in ("food_secure", "clothing_secure", "education_secure", "medical_secure",
                                        "housing_safe", "water_safe")}
    assert fold(BASELINE, [fact("uuid:v", 1, fields=all_met)], [], RULES, TODAY).exit_eligible is None
    survey = fact("uuid:i", 2, "income_survey", record={"year": 2019, "household_size": 1,
                                                          "parts": {"wage_income": 9000}, "spending": {}})
    assert fold(BASELINE, [fact("uuid:v", 1, fields=all_met), survey], [], RULES, TODAY).exit_eligible is True
    unsafe = {**all_met, "water_safe": "no"}
    assert fold(BASELINE, [fact("uuid:v", 1, fields=unsafe), survey], [], RULES, TODAY).exit_eligible is False
