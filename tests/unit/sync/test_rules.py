"""The seeds' rules, each citing the DOMAIN.md line it implements."""
import datetime as dt
from pathlib import Path

from sync.rules import (dangerous_house, exit_standard, load_rules, monitoring_flags, net_income, per_capita,
                        quality_findings, renovation_progress, two_assurances_met)

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
    assert not exit_standard({**ALL_MET, "education_secure": "no"}, income(2018, 9000), RULES)
    assert not exit_standard(ALL_MET, None, RULES)
    assert two_assurances_met(ALL_MET) and not two_assurances_met({})


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


def test_exited_household_under_the_line_again_is_flagged():
    """DOMAIN.md:64 "exited households under the line again"."""
    flags = monitoring_flags("已脱贫", [income(2025, 5000)], ALL_MET, RULES)
    assert [f.code for f in flags] == ["exited_under_line"]
    assert monitoring_flags("未脱贫", [income(2025, 5000)], ALL_MET, RULES) == []


def test_near_poor_is_flagged():
    """DOMAIN.md:64 "and near-poor ones"; DOMAIN.md:17 边缘易致贫户."""
    line = RULES.poverty_line(2025)
    flags = monitoring_flags("已脱贫", [income(2025, line * 1.2)], ALL_MET, RULES)
    assert [f.code for f in flags] == ["near_poor"]
    assert monitoring_flags("已脱贫", [income(2025, line * 3)], ALL_MET, RULES) == []


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


def member(name, birth, schooling="非在校生"):
    return {"name": name, "birth_date": birth, "schooling": schooling}


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
