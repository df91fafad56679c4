"""The renovation ledger (sync/renovation.py) as a function of assessments, the roster and entries made by hand.

DOMAIN.md "Precisions", line 87: "Renovation ends only when both hold: the family has moved in and the old house is
dealt with (建新拆旧, 防止"两头住", 004). Subsidies go to the household's 一卡通 account (004); floor area is
controlled." Line 89: the modes (翻建/修缮加固, 统建集体公租房, 修缮闲置公房, 置换或长期租赁农房, 易地扶贫搬迁).
DOMAIN.md line 48: subsidies C 5,000 yuan, D 45,000 yuan (configurable).
"""
import dataclasses
import datetime as dt
import random

from sync.facts import Fact
from sync.renovation import (DIBAO, DISABLED, REGISTERED, Entry, default_deadline, derive_renovation, next_stage,
                             overdue, subsidy_for)
from sync.rules import load_rules

RULES = load_rules()
T0 = dt.datetime(2026, 1, 1, 2, tzinfo=dt.timezone.utc)


def at(day: int) -> dt.datetime:
    return T0 + dt.timedelta(days=day)


def assessment(instance_id: str, day: int, grade: str, progress: str | None = "planned", mode: str = "relocate",
               photos: dict | None = None) -> Fact:
    date = at(day).date().isoformat()
    return Fact(form="housing_assessment", instance_id=instance_id, household="H1", observed_at=at(day),
                by="assessor", entity_update=True, base_version=1, trunk_version=None, branch_id=None,
                fields={"housing_grade": grade},
                record={"date": date, "grade": grade, "renovation_state": progress if grade in "CD" else None,
                        "renovation_mode": mode if grade in "CD" else None,
                        "photos": photos or {"photo_house": f"{instance_id[5:]}.jpg", "photo_sign": None}},
                member_changes=[])


def survey(instance_id: str, day: int, year: int, dibao: float) -> Fact:
    return Fact(form="income_survey", instance_id=instance_id, household="H1", observed_at=at(day), by="cadre1",
                entity_update=True, base_version=1, trunk_version=None, branch_id=None, fields={},
                record={"year": year, "parts": {"dibao": dibao}}, member_changes=[])


def visit(instance_id: str, day: int, stage: str | None, outcome: str = "visited") -> Fact:
    """A door-to-door visit (version 2026120701 on) that saw the renovation's stage, or none."""
    date = at(day).date().isoformat()
    return Fact(form="household_visit", instance_id=instance_id, household="H1", observed_at=at(day), by="cadre1",
                entity_update=True, base_version=1, trunk_version=None, branch_id=None, fields={},
                record={"date": date, "outcome": outcome, "renovation_stage": stage}, member_changes=[])


def entry(id_: int, kind: str, day: int, **value) -> Entry:
    return Entry(id=id_, kind=kind, value=value, by="财务", at=at(day))


def derive(facts, entries=(), status="已脱贫", monitoring_type=None, members=(), rules=RULES):
    return derive_renovation(list(facts), list(entries), status, monitoring_type, list(members), rules)


def test_only_a_c_or_d_grade_opens_a_ledger_row():
    assert derive([assessment("uuid:a1", 1, "B")]) is None
    ledger = derive([assessment("uuid:a1", 1, "B"), assessment("uuid:a2", 5, "D")])
    assert (ledger["grade"], ledger["assessment_instance_id"], ledger["graded_on"], ledger["stage"]) == (
        "D", "uuid:a2", "2026-01-06", "planned")


def test_moved_in_elsewhere_is_not_the_end_until_the_old_house_is_dealt_with():
    """DOMAIN.md line 87: moved in AND the old house dealt with (建新拆旧, 防止"两头住")."""
    ledger = derive([assessment("uuid:a1", 1, "D"), assessment("uuid:a2", 100, "D", "moved_in", "ex_situ")])
    assert ledger["stage"] == "moved_in" and ledger["old_dealt_on"] is None
    done = derive([assessment("uuid:a1", 1, "D"), assessment("uuid:a2", 100, "D", "moved_in", "ex_situ")],
                  [entry(1, "stage", 120, stage="old_dealt", on="2026-05-01")])
    assert (done["stage"], done["old_dealt_on"]) == ("old_dealt", "2026-05-01")


def test_a_stage_seen_dates_the_stages_before_it_and_the_earliest_date_wins():
    ledger = derive([assessment("uuid:a1", 1, "C"), assessment("uuid:a2", 60, "C", "finished"),
                     assessment("uuid:a3", 30, "C", "building")])
    assert (ledger["started_on"], ledger["finished_on"], ledger["moved_in_on"]) == ("2026-01-31", "2026-03-02", None)
    assert ledger["stage"] == "finished"
    # a later assessment that reads an earlier stage does not undo the progress
    later = derive([assessment("uuid:a1", 1, "C", "finished"), assessment("uuid:a2", 9, "C", "building")])
    assert later["stage"] == "finished" and later["started_on"] == "2026-01-02"


def test_photos_are_kept_by_the_stage_their_assessment_saw():
    ledger = derive([assessment("uuid:a1", 1, "D"), assessment("uuid:a2", 40, "D", "building")])
    assert [(p["stage"], p["instance_id"], p["role"], p["file"]) for p in ledger["photos"]] == [
        ("planned", "uuid:a1", "photo_house", "a1.jpg"), ("building", "uuid:a2", "photo_house", "a2.jpg")]


def test_subsidy_by_grade_and_by_the_year_the_house_was_graded():
    """DOMAIN.md line 48: C 5,000 and D 45,000 yuan, configurable; a plan may change them from a year on."""
    assert derive([assessment("uuid:a1", 1, "C")])["subsidy"] == 5000
    assert derive([assessment("uuid:a1", 1, "D")])["subsidy"] == 45000
    rules = dataclasses.replace(RULES, subsidy_years={2027: {"D": 48000}})
    assert subsidy_for(rules, "D", 2026) == 45000
    assert (subsidy_for(rules, "D", 2027), subsidy_for(rules, "D", 2030), subsidy_for(rules, "C", 2027)) == (
        48000, 48000, 5000)
    # the year is the one the house entered the ledger, whatever later assessments say
    regraded = derive([assessment("uuid:a1", 1, "C"), assessment("uuid:a2", 400, "D")], rules=rules)
    assert (regraded["grade"], regraded["subsidy_year"], regraded["subsidy"]) == ("D", 2026, 45000)


def test_payments_add_up_and_the_latest_day_is_kept():
    ledger = derive([assessment("uuid:a1", 1, "D")],
                    [entry(1, "payment", 50, amount=20000, on="2026-02-10"),
                     entry(2, "payment", 90, amount=25000, on="2026-03-30")])
    assert (ledger["paid_amount"], ledger["paid_on"]) == (45000, "2026-03-30")
    assert [step["event"] for step in ledger["history"]] == ["assessed", "payment", "payment"]


def test_deadline_from_the_rules_unless_entered():
    """Seed 004: "确保11月底前全部入住" (rules.toml [renovation] move_in_by, at least min_months after grading)."""
    assert default_deadline(RULES, dt.date(2026, 3, 1)) == dt.date(2026, 11, 30)
    assert default_deadline(RULES, dt.date(2026, 5, 31)) == dt.date(2026, 11, 30)
    assert default_deadline(RULES, dt.date(2026, 6, 1)) == dt.date(2027, 11, 30)
    assert default_deadline(RULES, dt.date(2026, 11, 21)) == dt.date(2027, 11, 30)
    assert default_deadline(RULES, dt.date(2026, 12, 5)) == dt.date(2027, 11, 30)
    assert default_deadline(dataclasses.replace(RULES, renovation={}), dt.date(2026, 3, 1)) is None
    ledger = derive([assessment("uuid:a1", 1, "C")])
    assert (ledger["deadline"], ledger["deadline_source"]) == ("2026-11-30", "rules")
    entered = derive([assessment("uuid:a1", 1, "C")], [entry(1, "deadline", 2, on="2026-06-30")])
    assert (entered["deadline"], entered["deadline_source"]) == ("2026-06-30", "entry")
    assert overdue("moved_in", dt.date(2026, 6, 30), dt.date(2026, 7, 1))
    assert not overdue("old_dealt", dt.date(2026, 6, 30), dt.date(2026, 7, 1))
    assert not overdue("building", dt.date(2026, 6, 30), dt.date(2026, 6, 30))


def test_priority_groups_from_the_roster_and_surveys_unless_entered():
    """Seed 004's 四类重点对象: 建档立卡户, 低保户, 分散供养特困人员, 贫困残疾人家庭."""
    facts = [assessment("uuid:a1", 1, "D"), survey("uuid:i1", 2, 2025, 1200)]
    disabled = [{"name": "甲", "health": "残疾"}]
    assert derive(facts, members=disabled)["groups"] == [REGISTERED, DIBAO, DISABLED]
    # an edge household (边缘易致贫户) is not registered: neither 建档立卡 nor 贫困残疾人家庭
    assert derive(facts, status="监测户", monitoring_type="边缘易致贫户", members=disabled)["groups"] == [DIBAO]
    assert derive(facts + [survey("uuid:i2", 3, 2026, 0)])["groups"] == [REGISTERED]
    entered = derive(facts, [entry(1, "groups", 5, groups=["destitute"])])
    assert (entered["groups"], entered["groups_source"]) == (["destitute"], "entry")


def test_an_entry_older_than_the_assessment_an_edit_left_is_still_applied():
    """A payment entered on the row an assessment opened stays on it after an edit of that assessment is dated later
    (the entry is a fact; only its derived row is rebuilt)."""
    ledger = derive([assessment("uuid:a2", 30, "D")], [entry(1, "payment", 10, amount=5000, on="2026-01-11")])
    assert (ledger["paid_amount"], ledger["paid_on"]) == (5000, "2026-01-11")
    assert derive([assessment("uuid:a1", 1, "B")], [entry(1, "payment", 10, amount=5000, on="2026-01-11")]) is None


def test_a_mode_entered_by_hand_wins_over_later_assessments():
    ledger = derive([assessment("uuid:a1", 1, "D", mode="relocate"), assessment("uuid:a2", 30, "D", mode="rebuild")],
                    [entry(1, "mode", 10, mode="collective_rental")])
    assert (ledger["mode"], ledger["mode_source"]) == ("collective_rental", "entry")


def test_a_mode_in_the_assessors_own_words_is_other_with_its_words():
    ledger = derive([assessment("uuid:a1", 1, "D", mode="投亲靠友" * 60)])
    assert (ledger["mode"], ledger["mode_other"]) == ("other", "投亲靠友" * 60)


def test_next_stage_follows_the_order_and_ends_at_the_old_house():
    assert [next_stage(s) for s in ("planned", "building", "finished", "moved_in", "old_dealt")] == [
        "building", "finished", "moved_in", "old_dealt", None]


def test_any_arrival_order_gives_the_same_ledger():
    facts = [assessment("uuid:a1", 1, "C"), assessment("uuid:a2", 30, "D", "building"),
             assessment("uuid:a3", 80, "D", "moved_in", "ex_situ"), survey("uuid:i1", 5, 2025, 300),
             assessment("uuid:a4", 200, "B", None)]
    entries = [entry(1, "payment", 40, amount=10000, on="2026-02-01"), entry(2, "floor_area", 45, m2=60.5)]
    expected = derive(facts, entries)
    assert expected["regraded"] == {"grade": "B", "instance_id": "uuid:a4", "on": "2026-07-20"}
    for seed in range(20):
        shuffled, shuffled_entries = facts[:], entries[:]
        random.Random(seed).shuffle(shuffled)
        random.Random(seed).shuffle(shuffled_entries)
        assert derive(shuffled, shuffled_entries) == expected


# ---- visits (issue 19: "Progress comes from assessments and visits where observed") --------------------------------

def test_a_visits_stage_dates_itself_and_the_stages_before_it_and_names_the_visit():
    ledger = derive([assessment("uuid:a1", 1, "D", mode="ex_situ"), visit("uuid:v1", 40, "finished")])
    assert (ledger["stage"], ledger["started_on"], ledger["finished_on"]) == ("finished", "2026-02-10", "2026-02-10")
    assert ledger["stage_sources"] == {
        "building": {"form": "household_visit", "instance_id": "uuid:v1", "on": "2026-02-10"},
        "finished": {"form": "household_visit", "instance_id": "uuid:v1", "on": "2026-02-10"}}
    assert ledger["history"][-1] == {"at": at(40).isoformat(), "event": "visited", "instance_id": "uuid:v1",
                                     "by": "cadre1", "stage": "finished"}


def test_the_earliest_stage_date_wins_between_visits_assessments_and_entries():
    ledger = derive([assessment("uuid:a1", 1, "D", mode="ex_situ"),
                     assessment("uuid:a2", 60, "D", "building", "ex_situ"),
                     visit("uuid:v1", 30, "building"), visit("uuid:v2", 90, "building")],
                    [entry(1, "stage", 100, stage="finished", on="2026-03-20")])
    assert (ledger["started_on"], ledger["stage_sources"]["building"]["instance_id"]) == ("2026-01-31", "uuid:v1")
    assert ledger["stage_sources"]["finished"] == {"entry_id": 1, "by": "财务", "on": "2026-03-20"}
    # a later visit that reads an earlier stage does not undo the progress
    assert derive([assessment("uuid:a1", 1, "D", "finished", "ex_situ"), visit("uuid:v1", 9, "building")])[
        "stage"] == "finished"


def test_a_visit_sees_the_end_only_when_moved_in_and_the_old_house_dealt_with():
    """DOMAIN.md:87: "Renovation ends only when both hold: the family has moved in and the old house is dealt with
    (建新拆旧, 防止"两头住", 004)": moved in elsewhere is not the end; on the same site there is no old house left."""
    moved = derive([assessment("uuid:a1", 1, "D", mode="ex_situ"), visit("uuid:v1", 100, "moved_in")])
    assert (moved["stage"], moved["moved_in_on"], moved["old_dealt_on"]) == ("moved_in", "2026-04-11", None)
    done = derive([assessment("uuid:a1", 1, "D", mode="ex_situ"), visit("uuid:v1", 100, "moved_in"),
                   visit("uuid:v2", 130, "old_dealt")])
    assert (done["stage"], done["moved_in_on"], done["old_dealt_on"]) == ("old_dealt", "2026-04-11", "2026-05-11")
    assert done["stage_sources"]["old_dealt"]["instance_id"] == "uuid:v2"
    in_place = derive([assessment("uuid:a1", 1, "D", mode="repair"), visit("uuid:v1", 100, "moved_in")])
    assert (in_place["stage"], in_place["old_dealt_on"]) == ("old_dealt", "2026-04-11")


def test_a_visit_without_a_stage_or_without_a_ledger_changes_nothing():
    base = derive([assessment("uuid:a1", 1, "D")])
    assert derive([assessment("uuid:a1", 1, "D"), visit("uuid:v1", 40, None),
                   visit("uuid:v2", 41, None, outcome="not_home")]) == base
    assert derive([visit("uuid:v1", 40, "building")]) is None  # a visit opens no row
    assert derive([assessment("uuid:a1", 1, "D"), visit("uuid:v1", 40, "planned")])["stage_sources"] == {}
    # a stage seen before the only C/D assessment an edit left: applied when the row opens
    assert derive([visit("uuid:v1", 10, "building"), assessment("uuid:a2", 30, "D")])["started_on"] == "2026-01-11"
    # read by the mode of the assessment that opened the row, and listed before it
    waited = derive([visit("uuid:v1", 10, "moved_in"), assessment("uuid:a2", 30, "D", mode="repair")])
    assert (waited["stage"], waited["old_dealt_on"]) == ("old_dealt", "2026-01-11")
    assert [step["event"] for step in waited["history"]] == ["visited", "assessed"]


def test_visits_in_any_arrival_order_give_the_same_ledger():
    facts = [assessment("uuid:a1", 1, "C", mode="ex_situ"), visit("uuid:v1", 30, "building"),
             visit("uuid:v2", 60, "moved_in"), assessment("uuid:a2", 45, "C", "finished", "ex_situ"),
             visit("uuid:v3", 90, "old_dealt")]
    expected = derive(facts, [entry(1, "payment", 40, amount=1000, on="2026-02-01")])
    assert expected["stage"] == "old_dealt"
    for seed in range(10):
        shuffled = facts[:]
        random.Random(seed).shuffle(shuffled)
        assert derive(shuffled, [entry(1, "payment", 40, amount=1000, on="2026-02-01")]) == expected
