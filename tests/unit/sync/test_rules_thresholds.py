"""Every threshold of sync/rules.toml pinned from both sides, and the rules' worked examples with exact values
(issue 14 item 13: the rules' tests must pin the rules; DOMAIN.md:54 "Lines and thresholds are configuration")."""
import datetime as dt
import hashlib
import json
from pathlib import Path

import pytest

from sync.rules import (EDGE_POOR, SUDDEN_HARDSHIP, UNSTABLE_EXITED, age_on, dangerous_house, exit_standard, exited,
                        load_rules, monitoring_flags, net_income, per_capita, quality_findings, renovation_progress,
                        risk_gaps, screening)

RULES = load_rules()
TODAY = dt.date(2026, 11, 25)
ALL_MET = {"food_secure": "yes", "clothing_secure": "yes", "education_secure": "yes", "medical_secure": "yes",
           "housing_safe": "yes", "water_safe": "yes"}


def survey(year, pc, total=None, spending=0.0, dibao=None, size=2):
    return {"year": year, "per_capita": pc, "total_net": (pc or 0) * size if total is None else total,
            "spending": {"spend_medical": spending}, "household_size": size,
            "parts": {} if dibao is None else {"dibao": dibao}}


def codes(flags):
    return [f.code for f in flags]


def income_only(status, incomes, monitoring_type=None):
    """The income flags alone: no screening list, no 三保障 gaps (those are pinned on their own below). A 未脱贫
    household has no line flag (it has not exited): its drops and jumps stand alone."""
    return [f for f in monitoring_flags(status, incomes, {}, RULES, monitoring_type)
            if not f.code.startswith("screening_")]


def test_the_bundled_thresholds_are_the_ones_pinned_here():
    """The values these tests pin: a change of rules.toml must change them knowingly."""
    assert RULES.thresholds == {"income_drop_share": 0.3, "spending_jump_share": 0.5, "spending_jump_yuan": 20000.0,
                                "near_poor_factor": 1.5, "income_tolerance_yuan": 1.0, "school_age_min": 6.0,
                                "school_age_max": 15.0, "screening_income_yuan": 5000.0,
                                "screening_dibao_yuan": 200.0}
    assert RULES.housing_subsidy == {"C": 5000.0, "D": 45000.0}
    assert RULES.evidence == {"max_distance_m": 200.0, "max_accuracy_m": 50.0, "max_photo_time_gap_hours": 12.0,
                              "max_photo_gps_gap_m": 500.0, "proposal_accuracy_m": 20.0}
    assert RULES.checks == {"min_fill_minutes": 3.0, "max_start_days_from_date": 1.0}


def test_lines_per_year_and_their_kind():
    """DOMAIN.md:97-98 "3,247 yuan is the 2018 line in one district (000). After 2020 the figure in force is a
    monitoring range (监测范围), not a poverty line"."""
    assert [RULES.poverty_line(y) for y in (2013, 2014, 2018, 2020, 2021, 2026, 2030)] == [
        None, 2800, 3247, 4000, 6000, 7500, 7500]
    assert [RULES.monitoring_range(y) for y in (2013, 2020, 2021, 2030)] == [False, False, True, True]
    with pytest.raises(AttributeError, match="^no_such_threshold$"):
        RULES.no_such_threshold


def test_a_rules_file_without_evidence_or_checks_gets_the_defaults_and_its_digest_is_of_its_values(tmp_path: Path):
    """DOMAIN.md:54: thresholds are configuration; a file that leaves a table out keeps the defaults."""
    path = tmp_path / "rules.toml"
    path.write_text("[thresholds]\nnear_poor_factor = 2\n[evidence]\nmax_distance_m = 300\n"
                    "[checks]\nmin_fill_minutes = 5\n[years.2018]\npoverty_line = 5000\n[years.2021]\nmonitoring_line = 7000\n",
                    encoding="utf-8")
    rules = load_rules(path)
    assert rules.lines == {2018: 5000.0, 2021: 7000.0} and rules.monitoring_years == {2021}
    assert rules.evidence == {"max_distance_m": 300.0, "max_accuracy_m": 50.0, "max_photo_time_gap_hours": 12.0,
                              "max_photo_gps_gap_m": 500.0, "proposal_accuracy_m": 20.0}
    assert rules.checks == {"min_fill_minutes": 5.0, "max_start_days_from_date": 1.0}
    values = {"lines": {2018: 5000.0, 2021: 7000.0}, "monitoring_years": [2021],
              "thresholds": {"near_poor_factor": 2.0}, "housing_subsidy": {}, "evidence": rules.evidence,
              "checks": {"min_fill_minutes": 5.0, "max_start_days_from_date": 1.0},
              "subsidy_years": {}, "renovation": {}, "monitoring": {}}
    assert rules.digest == hashlib.sha256(json.dumps(values, sort_keys=True).encode()).hexdigest()
    path.write_text("# a comment changes nothing\n" + path.read_text(encoding="utf-8"), encoding="utf-8")
    assert load_rules(path).digest == rules.digest


def test_net_income_adds_every_part_once_and_subtracts_business_costs():
    """DOMAIN.md:50-52 wage + (business income minus its costs) + property + transfers (低保, pensions, subsidies,
    分红): each part at its own decimal place, so a part dropped or counted twice shows."""
    parts = {"wage_income": 1, "business_gross": 30, "business_cost": 10, "property_income": 100,
             "dividends": 1000, "dibao": 10000, "pension": 100000, "subsidies": 1000000, "other_transfer": 10000000}
    assert net_income(parts) == 11111121
    assert net_income({"wage_income": 0.004, "dibao": 0.001}) == 0.01  # rounded to the fen
    assert net_income({}) == 0
    assert per_capita(10, 3) == 3.33 and per_capita(10, None) is None


def test_exit_standard_at_the_line():
    """DOMAIN.md:61 "per-capita net income stably above that year's line": 3,247 yuan in 2018 (DOMAIN.md:97)."""
    assert exit_standard(ALL_MET, survey(2018, 3247.01), RULES) is True
    assert exit_standard(ALL_MET, survey(2018, 3247), RULES) is False


@pytest.mark.parametrize("gap", sorted(ALL_MET))
def test_each_of_the_assurances_and_water_is_needed_to_exit(gap):
    """DOMAIN.md:61 "两不愁三保障 met: safe house, safe water, no out-of-school child, everybody insured"."""
    assert exit_standard({**ALL_MET, gap: "no"}, survey(2018, 9000), RULES) is False
    assert exit_standard({name: v for name, v in ALL_MET.items() if name != gap}, survey(2018, 9000), RULES) is False
    assert exit_standard(ALL_MET, survey(2018, 9000), RULES) is True


def test_income_drop_share_from_both_sides():
    """DOMAIN.md:63 "flag households whose income falls sharply": more than income_drop_share (0.3) of the previous
    survey's per-capita income. A fall to exactly 70 % is not flagged, below it is."""
    assert income_only("未脱贫", [survey(2024, 10000), survey(2025, 7000)]) == []
    [flag] = income_only("未脱贫", [survey(2024, 10000), survey(2025, 6999.99)])
    assert (flag.code, flag.details) == ("income_drop", {"year": 2025, "before": 10000, "after": 6999.99})
    # only the last two surveys count, and a previous survey without income (or none) gives no base
    assert income_only("未脱贫", [survey(2023, 90000), survey(2024, 10000), survey(2025, 7500)]) == []
    assert income_only("未脱贫", [survey(2024, 0), survey(2025, 10)]) == []
    assert income_only("未脱贫", [survey(2025, 10)]) == []


def test_spending_jump_from_both_sides():
    """DOMAIN.md:63-64 "or whose spending jumps (因病、因灾、因意外)": above 20,000 yuan, or above half the net
    income."""
    rich = 1_000_000
    assert income_only("未脱贫", [survey(2025, 50000, total=rich, spending=20000)]) == []
    [flag] = income_only("未脱贫", [survey(2025, 50000, total=rich, spending=20000.5)])
    assert (flag.code, flag.details) == ("spending_jump", {"year": 2025, "spending": 20000.5})
    assert income_only("未脱贫", [survey(2025, 50000, total=10000, spending=5000)]) == []
    assert codes(income_only("未脱贫", [survey(2025, 50000, total=10000, spending=5000.5)])) == ["spending_jump"]
    # a loss (negative net income) makes any spending large; no spending is never a jump
    assert codes(income_only("未脱贫", [survey(2025, 50000, total=-100, spending=1)])) == ["spending_jump"]
    assert codes(income_only("未脱贫", [survey(2025, 50000, total=None, spending=1) | {"total_net": None}])) == [
        "spending_jump"]
    assert income_only("未脱贫", [survey(2025, 50000, total=-100, spending=0)]) == []
    assert codes(income_only("未脱贫", [survey(2025, 50000, spending=0.5) | {"total_net": None}])) == ["spending_jump"]


def test_a_survey_without_spending_has_no_spending_jump():
    """DOMAIN.md:63 spending jumps: a survey that records no spending (an older form) has none to flag."""
    latest = {"year": 2025, "per_capita": 50000, "total_net": 100000, "household_size": 2}
    assert income_only("未脱贫", [latest]) == []


def test_spending_of_every_kind_adds_up():
    """DOMAIN.md:63 spending jumps (medical, education, disaster) — the kinds together."""
    latest = survey(2025, 50000, total=1_000_000) | {"spending": {"spend_medical": 10000, "spend_education": 10000,
                                                                  "spend_disaster": 1}}
    [flag] = income_only("未脱贫", [latest])
    assert flag.details == {"year": 2025, "spending": 20001}


@pytest.mark.parametrize("pc, exited_code, other_code", [
    (3246.99, "exited_under_line", None),
    (3247, "unstable_exit", "near_poor"),
    (4870.49, "unstable_exit", "near_poor"),  # under line × near_poor_factor (3247 × 1.5 = 4870.5)
    (4870.5, None, None),
])
def test_near_the_2018_line_from_both_sides(pc, exited_code, other_code):
    """DOMAIN.md:63-64 "exited households under the line again, and near-poor ones" and DOMAIN.md:92-93 "An exited
    household near the line is 脱贫不稳定户, never 边缘易致贫户" — the 2018 line of 3,247 yuan (DOMAIN.md:97)."""
    details = {"year": 2018, "per_capita": pc, "line": 3247.0}
    for status, kind in (("已脱贫", None), ("监测户", UNSTABLE_EXITED)):
        flags = income_only(status, [survey(2018, pc)], kind)
        assert [(f.code, f.details) for f in flags] == ([(exited_code, details)] if exited_code else [])
    for status, kind in (("监测户", EDGE_POOR), ("监测户", SUDDEN_HARDSHIP), ("一般户", None)):
        flags = income_only(status, [survey(2018, pc)], kind)
        assert [(f.code, f.details) for f in flags] == ([(other_code, details)] if other_code else [])
    for status in ("未脱贫", "返贫"):  # not exited: no exit to be unstable
        assert income_only(status, [survey(2018, pc)]) == []


@pytest.mark.parametrize("pc, flagged", [(5999.99, True), (6000, False)])
def test_the_2021_monitoring_range_from_both_sides(pc, flagged):
    """DOMAIN.md:97-98 "After 2020 the figure in force is a monitoring range (监测范围), not a poverty line"."""
    details = {"year": 2021, "per_capita": pc, "line": 6000.0, "monitoring_range": True}
    exited_flags = income_only("已脱贫", [survey(2021, pc)])
    other_flags = income_only("一般户", [survey(2021, pc)])
    assert [(f.code, f.details) for f in exited_flags] == ([("unstable_exit", details)] if flagged else [])
    assert [(f.code, f.details) for f in other_flags] == ([("near_poor", details)] if flagged else [])


def test_no_line_flag_without_a_line_or_an_income():
    """DOMAIN.md:54 lines per year: a year before every configured line is not judged against one."""
    assert income_only("已脱贫", [survey(2013, 100)]) == []
    assert income_only("已脱贫", [survey(2018, None)]) == []
    assert income_only("已脱贫", []) == []


def test_exited_households():
    """DOMAIN.md:25-26, 92: 已脱贫, or a 监测户 that is 脱贫不稳定户."""
    assert [exited("已脱贫", None), exited("监测户", UNSTABLE_EXITED), exited("监测户", EDGE_POOR),
            exited("未脱贫", UNSTABLE_EXITED), exited("监测户", None)] == [True, True, False, False, False]


@pytest.mark.parametrize("pc, dibao, expected", [
    (4999.99, 199.99, [("screening_income", {"year": 2025, "per_capita": 4999.99, "below": 5000.0}),
                       ("screening_dibao", {"year": 2025, "dibao": 199.99, "below": 200.0})]),
    (5000, 200, []),
    (5000, 0, []),  # no 低保金: not on that part of the list
    (None, 0.01, [("screening_dibao", {"year": 2025, "dibao": 0.01, "below": 200.0})]),
])
def test_the_screening_list_from_both_sides(pc, dibao, expected):
    """DOMAIN.md:99-100 "re-checked every registered household with per-capita net income under 5,000 yuan,
    especially those with 低保金 under 200 yuan (002)"."""
    flags = screening([survey(2023, 100, dibao=1), survey(2024, 100, dibao=1), survey(2025, pc, dibao=dibao)],
                      RULES)
    assert [(f.code, f.details) for f in flags] == expected
    assert screening([], RULES) == []


def test_risk_gaps_are_for_exited_and_monitored_households_and_answers_of_no_only():
    """DOMAIN.md:94 "A 三保障 or water gap in an exited household is a risk (致贫返贫风险), not only low income"."""
    gaps = {"education_secure": "no", "medical_secure": "no", "housing_safe": "no", "water_safe": "no",
            "water_quantity": "no", "water_quality": "yes", "water_reliability": "no"}
    expected = [("risk_education", {"field": "education_secure"}), ("risk_medical", {"field": "medical_secure"}),
                ("risk_housing", {"field": "housing_safe"}),
                ("risk_water", {"field": "water_safe", "indicators": ["water_quantity", "water_reliability"]})]
    for status in ("已脱贫", "监测户"):
        assert [(f.code, f.details) for f in risk_gaps(status, gaps)] == expected
    assert risk_gaps("未脱贫", gaps) == [] and risk_gaps("一般户", gaps) == []
    assert risk_gaps("已脱贫", {"education_secure": None, "water_safe": "yes"}) == []
    [water] = risk_gaps("已脱贫", {"water_safe": "no"})
    assert water.details == {"field": "water_safe"}
    [water] = risk_gaps("已脱贫", {"water_safe": "no", "water_convenience": "no"})
    assert water.message_zh == "致贫返贫风险：饮水安全无保障：用水方便程度不达标"


def test_monitoring_flags_put_gaps_then_income_then_screening():
    """DOMAIN.md:63-64 and :94, :99: one list, in that order."""
    flags = monitoring_flags("已脱贫", [survey(2018, 3000, dibao=100)], {"housing_safe": "no"}, RULES)
    assert codes(flags) == ["risk_housing", "exited_under_line", "screening_income", "screening_dibao"]


@pytest.mark.parametrize("state, mode, progress", [
    ("moved_in", "repair", "old_dealt"), ("moved_in", "rebuild", "old_dealt"), ("moved_in", "relocate", "moved_in"),
    ("moved_in", None, "moved_in"), ("building", "repair", "building"), (None, "repair", None)])
def test_renovation_progress(state, mode, progress):
    """DOMAIN.md:88-89 "Renovation ends only when both hold: the family has moved in and the old house is dealt
    with (004)" — on the same site no old house is left."""
    assert renovation_progress(state, mode) == progress


def test_dangerous_houses_and_their_subsidy():
    """DOMAIN.md:45-48 C and D are dangerous, subsidies C: 5,000 yuan, D: 45,000 yuan (configurable), followed
    until moved in and the old house dealt with."""
    assert dangerous_house({"housing_grade": "D", "renovation_state": "building"}, RULES).to_dict() == {
        "code": "dangerous_house", "message_zh": "D 级危房，改造未完成（在建）",
        "message_en": "Grade D house, renovation not finished (under way)",
        "details": {"grade": "D", "renovation_state": "building", "subsidy": 45000.0}}
    assert dangerous_house({"housing_grade": "C"}, RULES).details == {"grade": "C", "renovation_state": "",
                                                                     "subsidy": 5000.0}
    assert dangerous_house({"housing_grade": "C", "renovation_state": "odd"}, RULES).message_zh == \
        "C 级危房，改造未完成（odd）"
    assert dangerous_house({"housing_grade": "C", "renovation_state": "old_dealt"}, RULES) is None
    assert dangerous_house({"housing_grade": "B", "renovation_state": ""}, RULES) is None


@pytest.mark.parametrize("birth, age", [
    ("2010-11-24", 16), ("2010-11-25", 16), ("2010-11-26", 15),  # the day before, on and after the birthday
    ("2010-10-30", 16), ("2010-12-01", 15),  # an earlier month with a later day, a later month with an earlier day
])
def test_age_on_counts_the_birthday(birth, age):
    """DOMAIN.md:39 "no child of compulsory-school age (about 6–15)": an age is whole years, the birthday counts."""
    assert age_on(dt.date.fromisoformat(birth), TODAY) == age


def member(name, birth, schooling=""):
    return {"name": name, "birth_date": birth, "schooling": schooling}


def test_school_ages_6_and_15_from_both_sides():
    """DOMAIN.md:39 compulsory school age "about 6–15" (rules.toml school_age_min/max): a child of 6 or 15 out of
    school is a finding, one of 5 or 16 is not; the visit's count of children 6–15 matches the members of 6 to 15."""
    members = [member("五岁", "2021-11-26", "辍学"), member("六岁", "2020-11-25", "辍学"),
               member("十五岁", "2010-11-26", "辍学"), member("十六岁", "2010-11-25", "辍学"),
               member("无生日", None, "辍学"), member("在校", "2015-01-01", "小学"), member("未填", "2015-01-01", "")]
    findings = quality_findings(members, [], [{"children_6_15": 4}], RULES, TODAY)
    assert [(f.code, f.details) for f in findings] == [
        ("school_age_not_in_school", {"name": "六岁", "age": 6}),
        ("school_age_not_in_school", {"name": "十五岁", "age": 15})]
    count = quality_findings(members, [], [{"children_6_15": 3}], RULES, TODAY)[-1]
    assert (count.code, count.details) == ("children_count_mismatch", {"reported": 3, "members": 4})
    # the latest visit's count is the one compared
    visits = [{"children_6_15": 0}, {"children_6_15": 0}, {"children_6_15": 2}]
    assert quality_findings(members[5:], [], visits, RULES, TODAY) == []
    assert quality_findings(members[5:], [], [{"children_6_15": None}], RULES, TODAY) == []


@pytest.mark.parametrize("birth, flagged", [
    ("2007-11-25", True), ("2007-11-26", False),  # 19 and 18: above school_age_max + 3
    ("2021-11-25", False), ("2021-11-26", True),  # 5 and 4: under school_age_min - 1
])
def test_compulsory_schooling_far_from_the_age(birth, flagged):
    """DOMAIN.md:73 "logic errors (… ages vs schooling)": 小学 at 19 or at 4 does not fit; at 18 or 5 it may."""
    findings = quality_findings([member("某", birth, "小学")], [], [], RULES, TODAY)
    age = age_on(dt.date.fromisoformat(birth), TODAY)
    assert [(f.code, f.details) for f in findings] == ([("schooling_vs_age", {"name": "某", "age": age})]
                                                       if flagged else [])
    # not compulsory schooling: never this finding
    assert quality_findings([member("某", birth, "普通高中")], [], [], RULES, TODAY) == []


def test_income_totals_match_within_the_tolerance_in_every_survey():
    """DOMAIN.md:73 "logic errors (… income parts vs total)": a reported total may differ by 1 yuan (rounding),
    above or below; every surveyed year is checked."""
    def with_total(year, computed, reported):
        return {"year": year, "total_net": computed, "reported_total_net": reported, "household_size": 1}
    assert quality_findings([member("户主", None)], [with_total(2024, 5000, 5000), with_total(2025, 5000, 4999)],
                            [], RULES, TODAY) == []
    assert quality_findings([member("户主", None)], [with_total(2025, 5000, 5001)], [], RULES, TODAY) == []
    findings = quality_findings([member("户主", None)], [with_total(2024, 5000, 5001.5),
                                                        with_total(2025, 5000, 4998.5)], [], RULES, TODAY)
    assert [(f.code, f.details) for f in findings] == [
        ("income_total_mismatch", {"year": 2024, "reported": 5001.5, "computed": 5000}),
        ("income_total_mismatch", {"year": 2025, "reported": 4998.5, "computed": 5000})]


def test_members_versus_the_latest_surveys_size():
    """DOMAIN.md:73 "logic errors (members vs counted size)": the latest survey's size, when given."""
    members = [member("甲", None), member("乙", None)]
    assert quality_findings(members, [{"year": 2023, "household_size": 3, "total_net": 0},
                                      {"year": 2024, "household_size": 3, "total_net": 0},
                                      {"year": 2025, "household_size": 2, "total_net": 0}], [], RULES, TODAY) == []
    [finding] = quality_findings(members, [{"year": 2025, "household_size": 3, "total_net": 0}], [], RULES, TODAY)
    assert (finding.code, finding.details) == ("size_mismatch", {"year": 2025, "survey_size": 3, "members": 2})
    assert quality_findings(members, [{"year": 2025, "household_size": None, "total_net": 0}], [], RULES,
                            TODAY) == []
