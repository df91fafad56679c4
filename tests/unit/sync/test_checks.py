"""A form's own circumstances and a visit's insurance answer as data-quality findings (sync/checks.py).

DOMAIN.md:68-70 "A visit counts only if it really happened at the house: the seeds warn against paper visits
(慰问式、走访式帮扶, 数字脱贫, 弄虚作假)"; DOMAIN.md:73 "Data quality: logic errors … are found and listed";
DOMAIN.md:28 members carry "health-insurance enrolment"; DOMAIN.md:30-31 the file keeps "who recorded it and when".
"""
import datetime as dt

import pytest

from sync.checks import fact_findings, insurance_findings
from sync.facts import Fact
from sync.fold import Baseline, fold
from sync.rules import load_rules

RULES = load_rules()
CHECKS = RULES.checks
CHINA = dt.timezone(dt.timedelta(hours=8))
END = dt.datetime(2026, 11, 20, 10, 0, tzinfo=CHINA)


def fact(start=END - dt.timedelta(minutes=15), end=END, date="2026-11-20", username="cadre001", by="cadre001",
         form="household_visit", record=None):
    meta = {"start": start and start.astimezone(dt.timezone.utc).isoformat(),
            "end": end and end.astimezone(dt.timezone.utc).isoformat(), "username": username}
    return Fact(form=form, instance_id="uuid:1", household="2105040010010001", observed_at=END, by=by,
                entity_update=False, base_version=None, trunk_version=None, branch_id=None, fields={},
                record={"date": date, **(record or {})}, member_changes=[], meta=meta)


def codes(found):
    return [f["code"] for f in found]


def test_the_bundled_thresholds():
    # pinned here so that a change of rules.toml is a change of these tests too
    assert CHECKS == {"min_fill_minutes": 3.0, "max_start_days_from_date": 1.0}


def test_a_form_filled_at_a_plausible_pace_on_its_day_by_its_account_has_no_finding():
    assert fact_findings(fact(), CHECKS) == []


def test_fill_time_exactly_the_minimum_passes_and_a_second_less_is_too_short():
    at_limit = fact(start=END - dt.timedelta(minutes=3))
    assert fact_findings(at_limit, CHECKS) == []
    short = fact(start=END - dt.timedelta(minutes=3) + dt.timedelta(seconds=1))
    found = fact_findings(short, CHECKS)
    assert codes(found) == ["fill_too_short"]
    assert found[0]["details"] == {"instance_id": "uuid:1", "form": "household_visit", "minutes": 3.0}
    assert "入户走访" in found[0]["message_zh"] and "Door-to-door visit" in found[0]["message_en"]


def test_a_form_finished_before_it_was_opened_is_its_own_finding():
    assert codes(fact_findings(fact(start=END + dt.timedelta(minutes=1)), CHECKS)) == ["fill_times_inverted"]


def test_started_the_day_after_its_date_passes_two_days_after_does_not():
    # the start's day is counted in China: 00:30 on the 21st in China is the 20th in UTC
    next_day = dt.datetime(2026, 11, 21, 0, 30, tzinfo=CHINA)
    assert fact_findings(fact(start=next_day, end=next_day + dt.timedelta(minutes=20)), CHECKS) == []
    two_days = dt.datetime(2026, 11, 22, 0, 30, tzinfo=CHINA)
    found = fact_findings(fact(start=two_days, end=two_days + dt.timedelta(minutes=20)), CHECKS)
    assert codes(found) == ["start_far_from_date"] and found[0]["details"]["days"] == 2
    before = dt.datetime(2026, 11, 18, 23, 50, tzinfo=CHINA)
    assert codes(fact_findings(fact(start=before, end=before + dt.timedelta(minutes=20)), CHECKS)) \
        == ["start_far_from_date"]


def test_the_start_day_is_the_china_day_not_the_utc_day():
    # 07:00 on the 22nd in China is the 21st in UTC: one day from the 21st in UTC, two in China
    early = dt.datetime(2026, 11, 22, 7, 0, tzinfo=CHINA)
    assert codes(fact_findings(fact(date="2026-11-20", start=early, end=early + dt.timedelta(minutes=20)), CHECKS)) \
        == ["start_far_from_date"]


def test_without_its_times_or_its_date_a_form_is_not_checked_on_them():
    assert fact_findings(fact(start=None), CHECKS) == []
    assert fact_findings(fact(end=None, start=END - dt.timedelta(days=5)), CHECKS) != []
    assert fact_findings(fact(end=None, date=None), CHECKS) == []


def test_another_user_name_than_the_account_is_a_finding_and_the_account_stays_the_author():
    found = fact_findings(fact(username="somebody"), CHECKS)
    assert codes(found) == ["username_mismatch"]
    assert found[0]["details"] == {"instance_id": "uuid:1", "form": "household_visit", "username": "somebody",
                                   "account": "cadre001"}
    # no user name in the form, or no account known: nothing to compare
    assert fact_findings(fact(username=None), CHECKS) == []
    assert fact_findings(fact(by=None, username="somebody"), CHECKS) == []


def test_the_checks_apply_to_every_form_named_by_its_title():
    found = fact_findings(fact(form="income_survey", username="x"), CHECKS)
    assert codes(found) == ["username_mismatch"] and "家庭收入调查" in found[0]["message_zh"]


def test_the_fold_puts_a_facts_checks_in_the_record():
    record = fold(Baseline("2105040010010001", "已脱贫", []), [fact(username="x")], [], RULES, dt.date(2026, 11, 20))
    assert codes(record.findings) == ["username_mismatch"]
    assert record.events[0]["by"] == "cadre001"


def member(name, insured):
    return {"name": name, "insured": insured}


def visit(all_insured, count=None):
    return [{"instance_id": "uuid:v", "all_insured": all_insured, "not_insured_count": count}]


def test_everyone_insured_agrees_with_insured_members():
    assert insurance_findings([member("甲", True), member("乙", True)], visit("yes")) == []


def test_everyone_insured_but_a_member_is_not_is_a_mismatch_naming_the_member():
    found = insurance_findings([member("甲", True), member("乙", False)], visit("yes"))
    assert codes(found) == ["insurance_mismatch"]
    assert found[0]["details"]["uninsured_members"] == ["乙"] and "乙" in found[0]["message_zh"]


@pytest.mark.parametrize("count, mismatch", [(1, False), (2, True), (0, True), (None, False)])
def test_not_everyone_insured_is_checked_against_the_count(count, mismatch):
    found = insurance_findings([member("甲", True), member("乙", False)], visit("no", count))
    assert codes(found) == (["insurance_mismatch"] if mismatch else [])


def test_not_everyone_insured_but_every_member_is_is_a_mismatch():
    assert codes(insurance_findings([member("甲", True)], visit("no", 1))) == ["insurance_mismatch"]


def test_members_without_a_flag_are_not_counted_against_the_answer():
    # a member a visit added has no roster flag: "no" cannot be checked, "yes" only against the known flags
    added = {"name": "丙"}
    assert insurance_findings([member("甲", True), added], visit("no", 1)) == []
    assert insurance_findings([member("甲", True), added], visit("yes")) == []


def test_the_latest_visit_is_the_one_checked_and_no_visit_says_nothing():
    members = [member("甲", False)]
    assert insurance_findings(members, []) == []
    assert insurance_findings(members, [*visit("yes"), *visit("no", 1)]) == []


def test_the_fold_checks_the_latest_visits_insurance_answer_against_the_members():
    baseline = Baseline("2105040010010001", "已脱贫", [member("甲", False)])
    record = fold(baseline, [fact(record={"all_insured": "yes"})], [], RULES, dt.date(2026, 11, 20))
    assert codes(record.findings) == ["insurance_mismatch"]
