"""Monitoring cases (sync/monitoring.py) as a function of submissions and the decisions people made.

DOMAIN.md "Precisions", line 91: "Monitoring subtypes are kept, not folded: 脱贫不稳定户, 边缘易致贫户, 突发严重困难户
(003, 004). An exited household near the line is 脱贫不稳定户, never 边缘易致贫户. A monitoring case goes 识别/纳入 →
帮扶措施 → 风险消除, each a dated decision by someone. A 三保障 or water gap in an exited household is a risk."
Line 99: the 排查 list (income under 5,000 yuan, 低保金 under 200) is configuration. Line 103: a visit is not help.
"""
import dataclasses
import datetime as dt
import random

from sync.facts import Fact
from sync.monitoring import (Decision, as_of, case_key, derive_monitoring, subtype_refusal, suggested_subtype,
                             unmet)
from sync.rules import EDGE_POOR, SUDDEN_HARDSHIP, UNSTABLE_EXITED, load_rules

RULES = load_rules()
T0 = dt.datetime(2026, 1, 1, 2, tzinfo=dt.timezone.utc)


def at(day: int) -> dt.datetime:
    return T0 + dt.timedelta(days=day)


def fact(form: str, instance_id: str, day: int, fields=None, **record) -> Fact:
    return Fact(form=form, instance_id=instance_id, household="H1", observed_at=at(day), by="cadre1",
                entity_update=True, base_version=1, trunk_version=None, branch_id=None, fields=fields or {},
                record=record, member_changes=[])


def visit(instance_id: str, day: int, problems=(), help_given=(), **fields) -> Fact:
    return fact("household_visit", instance_id, day, fields, outcome="visited", problems=list(problems),
                help_given=list(help_given))


def survey(instance_id: str, day: int, year: int, wage: float, size: int = 2, dibao: float = 0) -> Fact:
    return fact("income_survey", instance_id, day, year=year, household_size=size,
                parts={"wage_income": wage, "dibao": dibao}, spending={})


def report(instance_id: str, day: int, risks=(), subtype=None, measures=()) -> Fact:
    return fact("monitoring_report", instance_id, day, risks=list(risks), subtype=subtype,
                situation="家中失火", measures=list(measures))


def decision(id_: int, key: str, kind: str, day: int, text: str = "理由", **value) -> Decision:
    return Decision(id=id_, case_key=key, kind=kind, value=value, text=text, by="审核员", at=at(day))


def derive(facts, decisions=(), status="已脱贫", monitoring_type=None, open_kinds=(), today=None, rules=RULES):
    return derive_monitoring("H1", list(facts), list(decisions), status, monitoring_type, list(open_kinds), rules,
                             today or at(400).date())


def test_a_gap_of_an_exited_household_proposes_a_case_with_its_evidence():
    """DOMAIN.md line 91: a 三保障 or water gap in an exited household is a risk, not only low income."""
    cases = derive([visit("uuid:v1", 1, water_safe="no")])
    assert len(cases) == 1
    case = cases[0]
    assert (case["state"], case["key"], case["source_instance_id"]) == ("proposed", case_key("H1", "uuid:v1"),
                                                                        "uuid:v1")
    assert case["evidence"][0]["flags"] == ["risk_water"] and case["evidence"][0]["instance_id"] == "uuid:v1"
    # a 一般户 with the same gap is no flag of the reconciler's (sync.rules.risk_gaps)
    assert derive([visit("uuid:v1", 1, water_safe="no")], status="一般户") == []


def test_an_income_drop_and_the_recheck_list_propose_a_case():
    """DOMAIN.md line 99: the 排查 list (per-capita income under 5,000 yuan) is configuration."""
    cases = derive([survey("uuid:i1", 1, 2024, 30000), survey("uuid:i2", 30, 2025, 9000)], status="一般户")
    assert cases[0]["source_instance_id"] == "uuid:i2"
    assert set(cases[0]["evidence"][0]["flags"]) == {"income_drop", "screening_income", "near_poor"}
    # without the 排查 list in the rules, the same surveys still show the drop, but not the re-check
    rules = dataclasses.replace(RULES, monitoring={"proposing_flags": ["income_drop"]})
    cases = derive([survey("uuid:i1", 1, 2024, 30000), survey("uuid:i2", 30, 2025, 9000)], status="一般户",
                   rules=rules)
    assert cases[0]["evidence"][0]["flags"] == ["income_drop"]
    assert derive([survey("uuid:i1", 1, 2025, 30000)], status="一般户") == []


def test_problem_ticks_that_are_risks_propose_and_suggest_risk_types():
    cases = derive([visit("uuid:v1", 1, problems=["illness", "disaster", "food"])], status="一般户")
    assert cases[0]["evidence"][0]["problems"] == ["illness", "disaster"]
    assert cases[0]["suggested_risks"] == ["illness", "disaster"]
    assert cases[0]["suggested_subtype"] == SUDDEN_HARDSHIP
    assert derive([visit("uuid:v1", 1, problems=["none"])], status="一般户") == []


def test_an_exited_household_is_never_edge_poor():
    """DOMAIN.md line 91: an exited household near the line is 脱贫不稳定户, never 边缘易致贫户."""
    assert suggested_subtype(True, ["disaster"]) == UNSTABLE_EXITED
    assert suggested_subtype(False, ["illness"]) == EDGE_POOR
    assert subtype_refusal(EDGE_POOR, True) is not None
    assert subtype_refusal(UNSTABLE_EXITED, False) is not None
    assert subtype_refusal(SUDDEN_HARDSHIP, True) is None
    # a report suggesting 边缘易致贫户 for an exited household is corrected
    assert derive([report("uuid:r1", 1, ["illness"], EDGE_POOR)])[0]["suggested_subtype"] == UNSTABLE_EXITED


def test_the_steps_identify_measure_and_remove_the_risk():
    """DOMAIN.md line 91: 识别/纳入 → 帮扶措施 → 风险消除, each a dated decision by someone; line 103: help given is a
    concrete measure, a visit alone is not."""
    key = case_key("H1", "uuid:v1")
    facts = [visit("uuid:v1", 1, problems=["illness"], help_given=["job"]),  # before 纳入: no measure
             visit("uuid:v2", 20),  # a visit without help is no measure
             visit("uuid:v3", 40, help_given=["aid"]),
             survey("uuid:i1", 250, 2026, 20000)]
    decisions = [decision(1, key, "include", 10, subtype=UNSTABLE_EXITED, risks=["illness"]),
                 decision(2, key, "measure", 60, text="申请临时救助", codes=["aid"])]
    case = derive(facts, decisions)[0]
    assert (case["state"], case["subtype"], case["risks"], case["identified_by"]) == (
        "helped", UNSTABLE_EXITED, ["illness"], "审核员")
    assert [(m["source"], m["codes"]) for m in case["measures"]] == [("submission", ["aid"]), ("entry", ["aid"])]
    assert unmet(case["conditions"]) == []
    removed = derive(facts, decisions + [decision(3, key, "remove", 300, text="收入稳定")])[0]
    assert (removed["state"], removed["ended_by"], removed["reason"]) == ("removed", "审核员", "收入稳定")
    assert removed["conditions"] == []


def test_each_condition_of_removing_the_risk_is_shown():
    key = case_key("H1", "uuid:v1")
    include = decision(1, key, "include", 10, subtype=UNSTABLE_EXITED, risks=["illness"])
    # surveyed before 纳入, no measure, an open water case, only 50 days on
    facts = [survey("uuid:i1", 0, 2026, 20000), visit("uuid:v1", 1, problems=["illness"])]
    case = derive(facts, [include], open_kinds=["water", "data_quality"], today=at(60).date())[0]
    assert {c["code"] for c in unmet(case["conditions"])} == {"income", "months", "no_problem", "measures"}
    assert next(c for c in case["conditions"] if c["code"] == "no_problem")["details"]["open"] == ["water"]
    # the months pass without a new submission: judged again on reading
    months = next(c for c in case["conditions"] if c["code"] == "months")
    assert months["details"]["from"] == "2026-07-11"
    assert not next(c for c in as_of(case["conditions"], dt.date(2026, 7, 10)) if c["code"] == "months")["met"]
    assert next(c for c in as_of(case["conditions"], dt.date(2026, 7, 11)) if c["code"] == "months")["met"]
    # a survey after 纳入 under the year's line is not enough either
    case = derive(facts + [survey("uuid:i2", 30, 2026, 10000)], [include])[0]
    assert next(c for c in case["conditions"] if c["code"] == "income")["met"] is False


def test_an_ended_case_lets_a_new_proposal_start_and_dismissal_keeps_its_reason():
    key = case_key("H1", "uuid:v1")
    facts = [visit("uuid:v1", 1, problems=["illness"]), visit("uuid:v2", 5, problems=["illness"]),
             visit("uuid:v3", 30, problems=["employment"])]
    cases = derive(facts, [decision(1, key, "dismiss", 10, text="已核实，无风险")])
    assert [c["state"] for c in cases] == ["dismissed", "proposed"]
    assert [e["instance_id"] for e in cases[0]["evidence"]] == ["uuid:v1", "uuid:v2"]
    assert cases[0]["reason"] == "已核实，无风险" and cases[1]["source_instance_id"] == "uuid:v3"


def test_a_decision_out_of_order_is_kept_but_not_applied():
    key = case_key("H1", "uuid:v1")
    case = derive([visit("uuid:v1", 1, problems=["illness"])], [decision(1, key, "remove", 10)])[0]
    assert case["state"] == "proposed"
    assert case["history"][-1]["event"] == "not_applied"


def test_a_report_for_an_identified_household_adds_its_measures():
    key = case_key("H1", "uuid:r1")
    facts = [report("uuid:r1", 1, ["disaster"]), report("uuid:r2", 20, ["disaster"], measures=["aid"])]
    case = derive(facts, [decision(1, key, "include", 10, subtype=SUDDEN_HARDSHIP, risks=["disaster"])])[0]
    assert case["state"] == "helped" and case["measures"][0]["instance_id"] == "uuid:r2"


def test_the_order_the_facts_arrive_in_changes_nothing():
    key = case_key("H1", "uuid:v1")
    facts = [visit("uuid:v1", 1, problems=["illness"]), visit("uuid:v2", 20, help_given=["job"]),
             survey("uuid:i1", 25, 2025, 3000), report("uuid:r1", 26, ["accident"]),
             visit("uuid:v3", 40, water_safe="no")]
    decisions = [decision(1, key, "include", 10, subtype=UNSTABLE_EXITED, risks=["illness"])]
    expected = derive(facts, decisions)
    for seed in range(5):
        shuffled = facts[:]
        random.Random(seed).shuffle(shuffled)
        assert derive(shuffled, decisions) == expected
