"""The seeds' rules, each citing the DOMAIN.md line it implements."""
import datetime as dt
from pathlib import Path

import pytest

from sync.rules import (dangerous_house, exit_standard, load_rules, monitoring_flags, net_income, per_capita,
                        quality_findings, renovation_progress, screening, two_assurances_met)

RULES = load_rules()
ALL_MET = {"food_secure": "yes", "clothing_secure": "yes", "education_secure": "yes", "medical_secure": "yes",
           "housing_safe": "yes", "water_safe": "yes"}


def income(year, per_capita_value, spending=0.0, total=None, size=2):
    return {"year": year, "per_capita": per_capita_value, "total_net": total or per_capita_value * size,
            "spending": {"spend_medical": spending}, "household_size": size}


def test_lines_are_configuration_per_year():
    """DOMAIN.md:54 "Lines and thresholds are configuration, per year, never constants in code."
    DOMAIN.md:53 "one district used 3,247 yuan for 2018"."""
    assert RULES.poverty_line(2018) == 3247
    assert RULES.poverty_line(2099) == RULES.lines[max(RULES.lines)]  # later years use the latest line
    assert RULES.poverty_line(2000) is None


def test_a_rules_file_can_change_the_line(tmp_path: Path):
    """DOMAIN.md:54: a district sets its own line by configuration."""
    path = tmp_path / "rules.toml"
    path.write_text("[thresholds]\nnear_poor_factor = 2\n[years.2018]\npoverty_line = 5000\n", encoding="utf-8")
    rules = load_rules(path)
    assert rules.poverty_line(2018) == 5000 and rules.near_poor_factor == 2


def test_per_capita_net_income_subtracts_business_costs():
    """DOMAIN.md:50-52 wage + (production/business income minus its costs) + property + transfers, ÷ size."""
    parts = {"wage_income": 6000, "business_gross": 5000, "business_cost": 2000, "property_income": 100,
             "dibao": 1000, "pension": 900, "subsidies": 0, "dividends": 50, "other_transfer": 0}
    assert net_income(parts) == 11050
    assert per_capita(11050, 4) == 2762.5
    assert per_capita(11050, 0) is None


def test_exit_standard_needs_income_above_the_line_and_two_assurances():
    """DOMAIN.md:61 "per-capita net income stably above that year's line and 两不愁三保障 met: safe house, safe
    water, no out-of-school child, everybody insured"."""
    assert exit_standard(ALL_MET, income(2018, 3300), RULES)
    assert not exit_standard(ALL_MET, income(2018, 3247), RULES)  # "above", not equal
    assert not exit_standard({**ALL_MET, "water_safe": "no"}, income(2018, 9000), RULES)
    assert exit_standard({**ALL_MET, "education_secure": "no"}, income(2018, 9000), RULES) is False
    assert two_assurances_met(ALL_MET) and not two_assurances_met({})


def test_exit_standard_cannot_be_judged_without_an_income_survey():
    """DOMAIN.md:61 the exit standard needs "per-capita net income stably above that year's line": with no income
    recorded it is 无法判断 (未调查收入), not "no" (issue 14 item 12)."""
    assert exit_standard(ALL_MET, None, RULES) is None
    assert exit_standard(ALL_MET, {"year": 2018, "per_capita": None}, RULES) is None
    assert exit_standard(ALL_MET, income(2000, 9000), RULES) is None  # no line configured that early


def test_income_falling_sharply_is_flagged():
    """DOMAIN.md:63 "flag households whose income falls sharply"."""
    flags = monitoring_flags("已脱贫", [income(2024, 10000), income(2025, 6000)], ALL_MET, RULES)
    assert "income_drop" in {f.code for f in flags}
    steady = monitoring_flags("已脱贫", [income(2024, 10000), income(2025, 9000)], ALL_MET, RULES)
    assert "income_drop" not in {f.code for f in steady}


def test_spending_jump_is_flagged():
    """DOMAIN.md:63-64 "or whose spending jumps (因病、因灾、因意外)"."""
    flags = monitoring_flags("已脱贫", [income(2025, 10000, spending=15000, total=20000)], ALL_MET, RULES)
    assert "spending_jump" in {f.code for f in flags}
    calm = monitoring_flags("已脱贫", [income(2025, 10000, spending=500, total=20000)], ALL_MET, RULES)
    assert "spending_jump" not in {f.code for f in calm}


def line_codes(flags):
    """The flags about the line (the 排查 list of 002 has its own test)."""
    return [f.code for f in flags if not f.code.startswith("screening_")]


def test_exited_household_under_the_line_again_is_flagged():
    """DOMAIN.md:64 "exited households under the line again"; up to 2020 the figure is the poverty line
    (DOMAIN.md:97)."""
    flags = monitoring_flags("已脱贫", [income(2019, 3700)], ALL_MET, RULES)
    assert line_codes(flags) == ["exited_under_line"]
    assert "低于当年贫困标准 3747 元" in flags[0].message_zh
    # a 脱贫不稳定户 is an exited household too (DOMAIN.md:91)
    assert line_codes(monitoring_flags("监测户", [income(2019, 3700)], ALL_MET, RULES, "脱贫不稳定户")) == [
        "exited_under_line"]
    assert line_codes(monitoring_flags("未脱贫", [income(2019, 3700)], ALL_MET, RULES)) == []
    assert line_codes(monitoring_flags("已脱贫", [income(2019, 3747)], ALL_MET, RULES)) == ["unstable_exit"]


def test_an_exited_household_near_the_line_is_unstable_not_near_poor():
    """DOMAIN.md:92 "An exited household near the line is 脱贫不稳定户, never 边缘易致贫户"; DOMAIN.md:91 边缘易致贫户 is a
    household that has not exited near the line. Up to 2020: line ≤ income < line × near_poor_factor."""
    line = RULES.poverty_line(2019)
    assert line_codes(monitoring_flags("已脱贫", [income(2019, line)], ALL_MET, RULES)) == ["unstable_exit"]
    flags = monitoring_flags("已脱贫", [income(2019, line * 1.2)], ALL_MET, RULES)
    assert line_codes(flags) == ["unstable_exit"] and flags[0].message_zh.startswith("脱贫不稳定")
    assert "边缘易致贫" not in flags[0].message_zh
    edge = monitoring_flags("监测户", [income(2019, line * 1.2)], ALL_MET, RULES, "边缘易致贫户")
    assert line_codes(edge) == ["near_poor"] and edge[0].message_zh.startswith("边缘易致贫")
    assert line_codes(monitoring_flags("已脱贫", [income(2019, line * RULES.near_poor_factor)], ALL_MET, RULES)) == []
    assert monitoring_flags("已脱贫", [income(2019, line * 3)], ALL_MET, RULES) == []


def test_after_2020_the_figure_is_a_monitoring_range():
    """DOMAIN.md:97 "After 2020 the figure in force is a monitoring range (监测范围), not a poverty line; statuses
    未脱贫/返贫 belong to 2020 and before": a household under it is flagged as within the monitoring range, and no
    message speaks of a poverty line."""
    assert not RULES.monitoring_range(2020) and RULES.monitoring_range(2021) and RULES.monitoring_range(2099)
    line = RULES.poverty_line(2025)
    exited = monitoring_flags("已脱贫", [income(2025, line - 1)], ALL_MET, RULES)
    assert [f.code for f in exited] == ["unstable_exit"] and exited[0].details["monitoring_range"]
    assert "监测范围" in exited[0].message_zh and "标准" not in exited[0].message_zh
    assert "monitoring range" in exited[0].message_en and "poverty line" not in exited[0].message_en
    edge = monitoring_flags("监测户", [income(2025, line - 1)], ALL_MET, RULES, "突发严重困难户")
    assert [f.code for f in edge] == ["near_poor"] and "监测范围" in edge[0].message_zh
    assert monitoring_flags("已脱贫", [income(2025, line)], ALL_MET, RULES) == []  # at the figure: outside


def test_lines_after_2020_are_monitoring_lines_marked_as_examples():
    """DOMAIN.md:97 (000): only 2018's 3,247 comes from the seeds; the other figures are examples the county sets."""
    text = (Path(__file__).resolve().parents[3] / "sync" / "rules.toml").read_text(encoding="utf-8")
    assert "the county (or province) must" in text
    for year in range(2014, 2027):
        entry = text.split(f"[years.{year}]\n", 1)[1].split("\n[", 1)[0]
        key = "monitoring_line" if year > 2020 else "poverty_line"
        assert key in entry, year
        assert ("# example" in entry) == (year != 2018), year


def test_every_assurance_or_water_gap_of_an_exited_or_monitored_household_is_a_risk():
    """DOMAIN.md:94 "A 三保障 or water gap in an exited household is a risk (致贫返贫风险), not only low income"
    (issue 14 item 3): no income survey needed, one flag per gap, each with its reason."""
    gaps = {**ALL_MET, "education_secure": "no", "medical_secure": "no", "housing_safe": "no", "water_safe": "no",
            "water_quality": "no", "water_quantity": "yes"}
    flags = monitoring_flags("已脱贫", [], gaps, RULES)
    assert [f.code for f in flags] == ["risk_education", "risk_medical", "risk_housing", "risk_water"]
    assert all(f.message_zh.startswith("致贫返贫风险") for f in flags)
    assert "失学辍学" in flags[0].message_zh and "未参保" in flags[1].message_zh
    assert flags[3].details == {"field": "water_safe", "indicators": ["water_quality"]}
    assert "水质不达标" in flags[3].message_zh
    assert [f.code for f in monitoring_flags("监测户", [], {**ALL_MET, "medical_secure": "no"}, RULES)] == [
        "risk_medical"]
    assert monitoring_flags("已脱贫", [], ALL_MET, RULES) == []
    assert monitoring_flags("已脱贫", [], {}, RULES) == []  # not asked yet is not a gap
    assert monitoring_flags("未脱贫", [], gaps, RULES) == []  # a poor household's gaps are its poverty, not a risk


def test_the_screening_list_of_seed_002():
    """DOMAIN.md:99 "One county re-checked every registered household with per-capita net income under 5,000 yuan,
    especially those with 低保金 under 200 yuan (002): both are configuration"."""
    def survey(pc, dibao):
        return {**income(2025, pc), "parts": {"dibao": dibao}}
    assert [f.code for f in monitoring_flags("未脱贫", [survey(4999, 0)], ALL_MET, RULES)] == ["screening_income"]
    assert monitoring_flags("未脱贫", [survey(5000, 0)], ALL_MET, RULES) == []
    flags = monitoring_flags("未脱贫", [survey(9000, 199)], ALL_MET, RULES)
    assert [f.code for f in flags] == ["screening_dibao"] and flags[0].details["dibao"] == 199
    assert monitoring_flags("未脱贫", [survey(9000, 200)], ALL_MET, RULES) == []
    assert screening([survey(4000, 100)], RULES)[0].details == {"year": 2025, "per_capita": 4000, "below": 5000}


def test_the_screening_figures_are_configuration(tmp_path: Path):
    """DOMAIN.md:99 "both are configuration"; a rules file without them has no 排查 list."""
    path = tmp_path / "rules.toml"
    path.write_text("[thresholds]\nscreening_income_yuan = 3000\nscreening_dibao_yuan = 50\n"
                    "[years.2018]\npoverty_line = 2000\n", encoding="utf-8")
    rules = load_rules(path)
    low = {**income(2018, 2999), "parts": {"dibao": 49}}
    assert [f.code for f in screening([low], rules)] == ["screening_income", "screening_dibao"]
    assert screening([{**income(2018, 3000), "parts": {"dibao": 50}}], rules) == []
    path.write_text("[years.2018]\npoverty_line = 2000\n", encoding="utf-8")
    assert screening([low], load_rules(path)) == []


def test_c_and_d_houses_are_tracked_until_moved_in_and_the_old_house_dealt_with():
    """DOMAIN.md:47-49 "C and D are dangerous and must be renovated … followed until the family has moved in
    (全部入住) and the old house is dealt with (建新拆旧)"; subsidies C 5,000 / D 45,000 (configurable).
    DOMAIN.md Precisions: "Renovation ends only when both hold: the family has moved in and the old house is dealt
    with (建新拆旧, 防止"两头住", 004)"."""
    flag = dangerous_house({"housing_grade": "D", "renovation_state": "building"}, RULES)
    assert flag.code == "dangerous_house" and flag.details["subsidy"] == 45000
    assert flag.message_zh == "D 级危房，改造未完成（在建）" and "under way" in flag.message_en
    assert dangerous_house({"housing_grade": "C"}, RULES).details["subsidy"] == 5000
    # moved in while the old house still stands: 两头住, not finished
    moved_in = dangerous_house({"housing_grade": "C", "renovation_state": "moved_in"}, RULES)
    assert moved_in.message_zh == "C 级危房，改造未完成（已入住，旧房未处置）"
    assert dangerous_house({"housing_grade": "D", "renovation_state": "old_dealt"}, RULES) is None
    assert dangerous_house({"housing_grade": "B"}, RULES) is None


def test_moving_in_after_a_renovation_on_the_same_site_finishes_it():
    """DOMAIN.md Precisions: "Renovation ends only when both hold … (建新拆旧, 004)": a house repaired, or rebuilt
    where the old one stood, leaves no old house to deal with; moving in elsewhere (集中安置, 公租房, 易地扶贫搬迁…)
    does."""
    assert renovation_progress("moved_in", "repair") == "old_dealt"
    assert renovation_progress("moved_in", "rebuild") == "old_dealt"
    for elsewhere in ("relocate", "collective_rental", "public_repair", "swap_lease", "ex_situ", "other", None):
        assert renovation_progress("moved_in", elsewhere) == "moved_in"
    assert renovation_progress("building", "repair") == "building"
    assert renovation_progress("old_dealt", "ex_situ") == "old_dealt"


TODAY = dt.date(2026, 11, 25)


def member(name, birth, schooling="非在校生", relation="户主", sex=None):
    return {"name": name, "birth_date": birth, "schooling": schooling, "relation": relation, "sex": sex}


def test_members_versus_counted_size():
    """DOMAIN.md:73 "logic errors (members vs counted size …)"."""
    findings = quality_findings([member("a", "1950-01-01")], [income(2025, 5000, size=3)], [], RULES, TODAY)
    assert [f.code for f in findings] == ["size_mismatch"]


def test_income_parts_versus_total():
    """DOMAIN.md:73 "… income parts vs total …"."""
    survey = {**income(2025, 5000, size=1), "reported_total_net": 7000.0, "total_net": 5000.0}
    findings = quality_findings([member("a", "1950-01-01")], [survey], [], RULES, TODAY)
    assert [f.code for f in findings] == ["income_total_mismatch"]


def test_ages_versus_schooling():
    """DOMAIN.md:73 "… ages vs schooling)"; DOMAIN.md:39 compulsory-school age is about 6–15."""
    members = [member("child", "2016-03-01", "非在校生"), member("pupil", "2015-01-01", "义务教育"),
               member("adult", "1980-01-01", "义务教育")]
    codes = [f.code for f in quality_findings(members, [], [], RULES, TODAY)]
    assert codes == ["school_age_not_in_school", "schooling_vs_age"]


def test_visit_child_count_versus_members():
    """DOMAIN.md:39 and :73: the visit's count of compulsory-age children must match the members."""
    findings = quality_findings([member("pupil", "2015-01-01", "义务教育")], [], [{"children_6_15": 0}], RULES, TODAY)
    assert [f.code for f in findings] == ["children_count_mismatch"]


@pytest.mark.parametrize("schooling", ["义务教育", "在校生", "小学", "初中", "送教上门"])
def test_schooling_values_that_mean_at_school(schooling):
    """DOMAIN.md:39 "no child of compulsory-school age (about 6–15) out of school": a pupil listed as 小学, 初中 or
    taught at home by visiting teachers (送教上门) is at school (issue 14 item 8)."""
    assert quality_findings([member("pupil", "2015-01-01", schooling)], [], [], RULES, TODAY) == []


def test_the_school_ages_follow_the_rules_file(tmp_path: Path):
    """DOMAIN.md:39 "about 6–15" and DOMAIN.md:54 thresholds are configuration."""
    path = tmp_path / "rules.toml"
    path.write_text("[thresholds]\nschool_age_min = 7\nschool_age_max = 16\n", encoding="utf-8")
    rules = load_rules(path)
    findings = quality_findings([member("a", "2010-01-01", "非在校生")], [], [{"children_6_15": 0}], rules, TODAY)
    assert [f.code for f in findings] == ["school_age_not_in_school", "children_count_mismatch"]
    assert "7–16" in findings[1].message_en


@pytest.mark.parametrize("relation, sex, wrong", [("之子", "女", True), ("之子", "男", False), ("之女", "男", True),
                                                  ("之父", "女", True), ("之母", "男", True), ("之孙女", "男", True),
                                                  ("之孙子", "女", True), ("配偶", "女", False), ("户主", "男", False)])
def test_relation_versus_sex(relation, sex, wrong):
    """DOMAIN.md:73 "logic errors": 之子 is a man, 之女 a woman (issue 14 item 8)."""
    findings = quality_findings([member("x", "1990-01-01", relation=relation, sex=sex)], [], [], RULES, TODAY)
    assert [f.code for f in findings] == (["relation_vs_sex"] if wrong else [])
