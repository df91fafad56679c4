"""Problem cases (sync/cases.py) as a function of observations and decisions.

DOMAIN.md "Precisions": "Problems are closed, not only found: 三保障 and water problems are checked continuously and
cleared (常态化排查、"动态清零", 004): found → measure → resolved and signed off, by village and town."
"""
import datetime as dt
import random

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from sync.cases import KINDS, Decision, case_key, derive_cases
from sync.facts import Fact
from sync.rules import load_rules

RULES = load_rules()
TODAY = dt.date(2026, 11, 25)
T0 = dt.datetime(2026, 1, 1, tzinfo=dt.timezone.utc)
MEMBERS = [{"name": "户主", "id_number": "210504194707180878", "relation": "户主", "birth_date": "1947-07-18",
            "schooling": "非在校生", "insured": True}]
ALL_YES = {name: "yes" for name in ("food_secure", "clothing_secure", "education_secure", "medical_secure",
                                    "housing_safe", "water_safe", "housing_sign_present", "water_sign_present")}
VISIT_OK = {"outcome": "visited", "all_insured": "yes", "out_of_school": 0, "children_6_15": 0,
            "chronic_signed": "na", "help_given": []}


def at(day: int) -> dt.datetime:
    return T0 + dt.timedelta(days=day)


def visit(instance_id: str, day: int, record=None, **fields) -> Fact:
    return Fact(form="household_visit", instance_id=instance_id, household="H1", observed_at=at(day), by="cadre1",
                entity_update=True, base_version=1, trunk_version=None, branch_id=None,
                fields={**ALL_YES, **fields}, record={**VISIT_OK, **(record or {})}, member_changes=[])


def assessment(instance_id: str, day: int, grade: str, progress: str = "planned", sign: str = "yes") -> Fact:
    return Fact(form="housing_assessment", instance_id=instance_id, household="H1", observed_at=at(day),
                by="assessor", entity_update=True, base_version=1, trunk_version=None, branch_id=None,
                fields={"housing_grade": grade}, record={"grade": grade, "renovation_state": progress,
                                                         "sign_present": sign}, member_changes=[])


def decision(id_: int, kind: str, subject: str, day: int, what: str = "sign_off", text: str = "已核实") -> Decision:
    return Decision(id=id_, case_key=case_key("H1", kind, subject), kind=what, text=text, by="镇干部", at=at(day))


def derive(facts, decisions=(), members=MEMBERS):
    return {(c["kind"], c["subject"]): c for c in derive_cases("H1", list(facts), list(decisions), members, RULES,
                                                               TODAY)}


def test_found_then_measure_then_closed_by_a_later_visit():
    cases = derive([
        visit("uuid:v1", 1, water_safe="no", water_quality="no"),
        visit("uuid:v2", 10, record={"help_given": ["housing"], "help_note": "申请改水"}, water_safe="no"),
        visit("uuid:v3", 40),
    ])
    water = cases[("water", "")]
    assert water["state"] == "closed"
    assert (water["opened_at"], water["source_instance_id"]) == (at(1).isoformat(), "uuid:v1")
    assert (water["closed_at"], water["closing_instance_id"]) == (at(40).isoformat(), "uuid:v3")
    assert water["details"] == {"indicators": ["water_quality"]}
    assert [s["event"] for s in water["history"]] == ["opened", "measure", "closed"]
    assert water["history"][1]["help"] == {"codes": ["housing"], "other": None, "note": "申请改水"}
    assert water["last_measure_at"] == at(10).isoformat()
    assert set(cases) == {("water", "")}


def test_a_visit_that_does_not_ask_leaves_the_case_open():
    older_version = visit("uuid:v2", 10)
    del older_version.fields["water_safe"]
    cases = derive([visit("uuid:v1", 1, water_safe="no"), older_version])
    assert cases[("water", "")]["state"] == "open"


def test_sign_off_closes_an_open_case_and_a_new_observation_reopens_it():
    cases = derive([visit("uuid:v1", 1, food_secure="no"), visit("uuid:v2", 50, food_secure="no")],
                   [decision(7, "food", "", 20)])
    food = cases[("food", "")]
    assert food["state"] == "reopened"
    assert (food["opened_at"], food["source_instance_id"]) == (at(50).isoformat(), "uuid:v2")
    assert food["closed_at"] is None
    assert [s["event"] for s in food["history"]] == ["opened", "signed_off", "reopened"]
    assert food["history"][1] == {"at": at(20).isoformat(), "event": "signed_off", "decision_id": 7, "by": "镇干部",
                                  "text": "已核实"}

    signed = derive([visit("uuid:v1", 1, food_secure="no")], [decision(7, "food", "", 20)])[("food", "")]
    assert (signed["state"], signed["closed_at"], signed["closing_decision_id"]) == ("signed_off",
                                                                                     at(20).isoformat(), 7)


def test_a_visit_filled_before_the_sign_off_does_not_reopen_it_whenever_it_arrives():
    # an offline visit of day 10 synced after the sign-off of day 20 said what was true before the sign-off
    cases = derive([visit("uuid:v1", 1, food_secure="no"), visit("uuid:v2", 10, food_secure="no")],
                   [decision(7, "food", "", 20)])
    assert cases[("food", "")]["state"] == "signed_off"


def test_reopened_when_observed_again_after_an_observation_closed_it():
    cases = derive([visit("uuid:v1", 1, clothing_secure="no"), visit("uuid:v2", 5),
                    visit("uuid:v3", 9, clothing_secure="no")])
    assert cases[("clothing", "")]["state"] == "reopened"
    assert [s["event"] for s in cases[("clothing", "")]["history"]] == ["opened", "closed", "reopened"]


def test_a_sign_off_after_the_case_was_closed_changes_nothing():
    cases = derive([visit("uuid:v1", 1, food_secure="no"), visit("uuid:v2", 5)], [decision(3, "food", "", 8)])
    assert cases[("food", "")]["state"] == "closed"
    assert cases[("food", "")]["closing_instance_id"] == "uuid:v2"


def test_a_measure_entered_by_hand_is_on_the_case():
    cases = derive([visit("uuid:v1", 1, housing_safe="no")],
                   [decision(4, "housing", "", 3, what="measure", text="已报危改")])
    housing = cases[("housing", "")]
    assert housing["state"] == "open"
    assert housing["history"][-1] == {"at": at(3).isoformat(), "event": "measure", "decision_id": 4,
                                      "by": "镇干部", "text": "已报危改"}
    assert housing["last_measure_at"] == at(3).isoformat()


def test_a_decision_on_a_case_that_is_not_there_is_ignored():
    assert derive([visit("uuid:v1", 1)], [decision(1, "food", "", 3)]) == {}


def test_each_uninsured_member_named_is_a_case_closed_when_everyone_is_insured():
    cases = derive([visit("uuid:v1", 1, medical_secure="no",
                          record={"all_insured": "no", "not_insured_count": 2, "not_insured_names": "王五、赵六"}),
                    visit("uuid:v2", 5, medical_secure="no",
                          record={"all_insured": "no", "not_insured_count": 1, "not_insured_names": "赵六"})])
    assert cases[("uninsured", "王五")]["state"] == "closed"
    assert cases[("uninsured", "赵六")]["state"] == "open"
    # medical not assured because of the uninsured member is that member's case, not a second one
    assert ("medical", "") not in cases
    later = derive([visit("uuid:v1", 1, medical_secure="no", record={"all_insured": "no"}),
                    visit("uuid:v2", 5)])
    assert later[("uninsured", "")]["state"] == "closed"


def test_medical_care_not_assured_for_a_chronic_patient_not_signed_up():
    cases = derive([visit("uuid:v1", 1, medical_secure="no", record={"chronic_signed": "no"})])
    assert cases[("medical", "")]["details"] == {"chronic_signed": "no"}


def test_dropout_opens_an_education_case():
    cases = derive([visit("uuid:v1", 1, education_secure="no",
                          record={"out_of_school": 1, "out_of_school_note": "小明 辍学打工"})])
    assert cases[("education", "")]["details"] == {"out_of_school": 1, "note": "小明 辍学打工"}


def test_signs_from_a_visit_and_from_an_assessment():
    cases = derive([visit("uuid:v1", 1, housing_sign_present="no", water_sign_present="no"),
                    assessment("uuid:a1", 3, "A", sign="yes")])
    assert cases[("housing_sign", "")]["state"] == "closed"
    assert cases[("water_sign", "")]["state"] == "open"


def test_a_c_d_house_stays_open_until_the_renovation_is_finished():
    cases = derive([assessment("uuid:a1", 1, "D", "building"), assessment("uuid:a2", 30, "D", "moved_in")])
    assert cases[("dangerous_house", "")]["state"] == "open"
    done = derive([assessment("uuid:a1", 1, "C", "building"), assessment("uuid:a2", 30, "C", "old_dealt")])
    assert done[("dangerous_house", "")]["state"] == "closed"
    assert done[("dangerous_house", "")]["closing_instance_id"] == "uuid:a2"


def test_a_visit_that_disagrees_with_the_members_opens_a_data_quality_case():
    uninsured = [{**MEMBERS[0], "insured": False}]
    cases = derive([visit("uuid:v1", 1)], members=uninsured)
    assert cases[("data_quality", "insurance_mismatch")]["state"] == "open"
    assert "未参保" in cases[("data_quality", "insurance_mismatch")]["details"]["message_zh"]
    assert ("data_quality", "insurance_mismatch") not in derive([visit("uuid:v1", 1)])


@pytest.mark.parametrize("field", ["food_secure", "clothing_secure", "housing_safe", "water_safe",
                                   "housing_sign_present", "water_sign_present"])
def test_each_household_gap_of_the_visit_is_a_kind(field):
    cases = derive([visit("uuid:v1", 1, **{field: "no"})])
    assert len(cases) == 1
    ((kind, subject),) = cases
    assert kind in KINDS and subject == ""


def test_an_attempt_observes_nothing():
    nobody = visit("uuid:v2", 5, record={"outcome": "not_home"})
    assert derive([visit("uuid:v1", 1, food_secure="no"), nobody])[("food", "")]["state"] == "open"


def test_the_key_is_stable_and_names_household_kind_and_subject():
    assert case_key("H1", "uninsured", "王五") == case_key("H1", "uninsured", "王五")
    assert len({case_key("H1", "uninsured", "王五"), case_key("H1", "uninsured", "赵六"),
                case_key("H2", "uninsured", "王五")}) == 3


ANSWER = st.sampled_from(["yes", "no"])


@settings(max_examples=60, deadline=None)
@given(st.lists(st.tuples(st.integers(0, 30), ANSWER, ANSWER, st.booleans()), min_size=1, max_size=8),
       st.lists(st.tuples(st.integers(0, 30), st.sampled_from(["sign_off", "measure"])), max_size=3),
       st.randoms(use_true_random=False))
def test_arrival_order_does_not_change_the_cases(visits, decisions, rng: random.Random):
    facts = [visit(f"uuid:{i:02d}", day, water_safe=water, food_secure=food,
                   record={"help_given": ["job"] if helped else []})
             for i, (day, water, food, helped) in enumerate(visits)]
    made = [decision(i + 1, "water", "", day, what) for i, (day, what) in enumerate(decisions)]
    reference = derive_cases("H1", facts, made, MEMBERS, RULES, TODAY)
    rng.shuffle(facts)
    rng.shuffle(made)
    assert derive_cases("H1", facts, made, MEMBERS, RULES, TODAY) == reference
