"""The seeds' rules as functions of a household's derived state and the year's configuration.

Each rule cites the DOMAIN.md line it implements. Pure: no database, no clock (the caller gives "today").
"""
from __future__ import annotations

import dataclasses
import datetime as dt
import hashlib
import json
import tomllib
from pathlib import Path
from typing import Any

BUNDLED_RULES = Path(__file__).resolve().parent / "rules.toml"
#: a renovation ends only when the family has moved in AND the old house is dealt with (DOMAIN.md Precisions:
#: 建新拆旧, 防止"两头住", 004): the progress code that says both
SAFE_RENOVATION = "old_dealt"
#: modes that keep the family on the same site, where no second house is left to deal with: moving in ends them
IN_PLACE_RENOVATION = ("repair", "rebuild")
# the housing-assessment form's renovation progress codes (forms/README.md)
RENOVATION_STATES = {"": ("未开始", "not started"), "planned": ("计划", "planned"), "building": ("在建", "under way"),
                     "finished": ("竣工", "finished"), "moved_in": ("已入住，旧房未处置", "moved in, old house not dealt with")}
EVIDENCE_DEFAULTS = {"max_distance_m": 200.0, "max_accuracy_m": 50.0, "max_photo_time_gap_hours": 12.0,
                     "max_photo_gps_gap_m": 500.0, "proposal_accuracy_m": 20.0}
#: the checks of a submission's own circumstances (sync/checks.py), when a rules file has no [checks] table
CHECKS_DEFAULTS = {"min_fill_minutes": 3.0, "max_start_days_from_date": 1.0}


@dataclasses.dataclass(frozen=True)
class RulesConfig:
    lines: dict[int, float]
    thresholds: dict[str, float]
    housing_subsidy: dict[str, float]
    evidence: dict[str, float] = dataclasses.field(default_factory=dict)
    checks: dict[str, float] = dataclasses.field(default_factory=lambda: dict(CHECKS_DEFAULTS))
    #: sha256 of the values above, stamped on every record folded with them: a record whose stamp differs was
    #: folded with other rules and is folded again in the background (sync/jobs.py `queue_refolds`)
    digest: str = ""

    def poverty_line(self, year: int) -> float | None:
        """The year's line, or the latest configured before it (lines are set per year, DOMAIN.md)."""
        earlier = [y for y in self.lines if y <= year]
        return self.lines[max(earlier)] if earlier else None

    def __getattr__(self, name: str) -> float:
        try:
            return self.thresholds[name]
        except KeyError:
            raise AttributeError(name) from None


def load_rules(path: Path | None = None) -> RulesConfig:
    data = tomllib.loads((path or BUNDLED_RULES).read_text(encoding="utf-8"))
    rules = RulesConfig(lines={int(y): float(v["poverty_line"]) for y, v in data.get("years", {}).items()},
                        thresholds={k: float(v) for k, v in data.get("thresholds", {}).items()},
                        housing_subsidy={k: float(v) for k, v in data.get("housing_subsidy", {}).items()},
                        evidence={**EVIDENCE_DEFAULTS,
                                  **{k: float(v) for k, v in data.get("evidence", {}).items()}},
                        checks={**CHECKS_DEFAULTS, **{k: float(v) for k, v in data.get("checks", {}).items()}})
    return dataclasses.replace(rules, digest=rules_digest(rules))


def rules_digest(rules: RulesConfig) -> str:
    """The digest of the values the rules apply, not of the file's text: a comment or a reordering changes nothing."""
    values = {"lines": rules.lines, "thresholds": rules.thresholds, "housing_subsidy": rules.housing_subsidy,
              "evidence": rules.evidence, "checks": rules.checks}
    return hashlib.sha256(json.dumps(values, sort_keys=True).encode()).hexdigest()


# ---- income -------------------------------------------------------------------------------------------------

def net_income(parts: dict[str, float]) -> float:
    """家庭纯收入: wages + (business income − its expenses, 生产经营性支出) + property (资产收益分红 included) +
    transfers (DOMAIN.md, form 3)."""
    transfers = sum(parts.get(k, 0.0) for k in ("dibao", "pension", "subsidies", "other_transfer"))
    business = parts.get("business_gross", 0.0) - parts.get("business_cost", 0.0)
    property_income = parts.get("property_income", 0.0) + parts.get("dividends", 0.0)
    return round(parts.get("wage_income", 0.0) + business + property_income + transfers, 2)


def per_capita(total: float, size: int | None) -> float | None:
    """人均纯收入 = household net income ÷ household size (DOMAIN.md, form 3)."""
    return round(total / size, 2) if size else None


# ---- flags --------------------------------------------------------------------------------------------------

@dataclasses.dataclass(frozen=True)
class Flag:
    code: str
    message_zh: str
    message_en: str
    details: dict[str, Any] = dataclasses.field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)


def two_assurances_met(fields: dict[str, Any]) -> bool:
    """两不愁三保障 + 饮水安全: food, clothing, schooling, insurance, safe house and safe water all "yes"."""
    return all(fields.get(name) == "yes" for name in
               ("food_secure", "clothing_secure", "education_secure", "medical_secure", "housing_safe", "water_safe"))


def exit_standard(fields: dict[str, Any], income: dict[str, Any] | None, rules: RulesConfig) -> bool:
    """Exit standard (脱贫标准): per-capita net income above that year's line and 两不愁三保障 met (DOMAIN.md)."""
    if not income or income.get("per_capita") is None:
        return False
    line = rules.poverty_line(income["year"])
    return line is not None and income["per_capita"] > line and two_assurances_met(fields)


def monitoring_flags(status: str, incomes: list[dict[str, Any]], fields: dict[str, Any],
                     rules: RulesConfig) -> list[Flag]:
    """防止返贫监测 (DOMAIN.md "Monitoring"): income falling sharply, spending jumping, exited households under
    the line again, near-poor households. `incomes` is one survey per year, oldest first."""
    flags: list[Flag] = []
    if not incomes:
        return flags
    latest = incomes[-1]
    pc, year = latest.get("per_capita"), latest["year"]
    line = rules.poverty_line(year)
    if len(incomes) > 1 and pc is not None and incomes[-2].get("per_capita"):
        before = incomes[-2]["per_capita"]
        if pc < before * (1 - rules.income_drop_share):
            flags.append(Flag("income_drop", f"人均纯收入从 {before:g} 元降至 {pc:g} 元（{year} 年）",
                              f"Per-capita income fell from {before:g} to {pc:g} yuan ({year})",
                              {"year": year, "before": before, "after": pc}))
    spending = sum(latest.get("spending", {}).values())
    if spending > 0 and (spending > rules.spending_jump_yuan
                         or spending > rules.spending_jump_share * max(latest.get("total_net") or 0.0, 0.0)):
        flags.append(Flag("spending_jump", f"{year} 年大额支出 {spending:g} 元（医疗、教育、灾害）",
                          f"Large spending of {spending:g} yuan in {year} (medical, education, disaster)",
                          {"year": year, "spending": spending}))
    if line is not None and pc is not None:
        if status == "已脱贫" and pc < line:
            flags.append(Flag("exited_under_line", f"已脱贫户 {year} 年人均纯收入 {pc:g} 元，低于当年标准 {line:g} 元",
                              f"Exited household under the {year} line: {pc:g} < {line:g} yuan",
                              {"year": year, "per_capita": pc, "line": line}))
        elif status != "未脱贫" and line <= pc < line * rules.near_poor_factor:
            flags.append(Flag("near_poor", f"边缘易致贫：{year} 年人均纯收入 {pc:g} 元，接近标准 {line:g} 元",
                              f"Near-poor: per-capita income {pc:g} yuan close to the {year} line of {line:g}",
                              {"year": year, "per_capita": pc, "line": line}))
    return flags


def renovation_progress(state: str | None, mode: str | None) -> str | None:
    """The progress of a C/D house's renovation as the rules read it: moved in on the same site (repaired, or rebuilt
    where the old one stood) leaves no old house, so it is finished; moved in elsewhere is not finished until the
    old house is dealt with (DOMAIN.md Precisions: "Renovation ends only when both hold", 004)."""
    return SAFE_RENOVATION if state == "moved_in" and mode in IN_PLACE_RENOVATION else state


def dangerous_house(fields: dict[str, Any], rules: RulesConfig) -> Flag | None:
    """C/D houses are tracked until the family has moved in (全部入住) and the old house is dealt with (建新拆旧,
    DOMAIN.md Precisions)."""
    grade = fields.get("housing_grade")
    state = fields.get("renovation_state") or ""
    if grade in ("C", "D") and state != SAFE_RENOVATION:
        subsidy = rules.housing_subsidy.get(grade)
        zh, en = RENOVATION_STATES.get(state, (state, state))
        return Flag("dangerous_house", f"{grade} 级危房，改造未完成（{zh}）",
                    f"Grade {grade} house, renovation not finished ({en})",
                    {"grade": grade, "renovation_state": state, "subsidy": subsidy})
    return None


# ---- data quality -------------------------------------------------------------------------------------------

def age_on(birth: dt.date, day: dt.date) -> int:
    return day.year - birth.year - ((day.month, day.day) < (birth.month, birth.day))


def quality_findings(members: list[dict[str, Any]], incomes: list[dict[str, Any]], visits: list[dict[str, Any]],
                     rules: RulesConfig, today: dt.date) -> list[Flag]:
    """数据质量 (DOMAIN.md "Data quality"): members vs counted size, income parts vs totals, ages vs schooling."""
    findings: list[Flag] = []
    if incomes:
        latest = incomes[-1]
        size = latest.get("household_size")
        if size is not None and size != len(members):
            findings.append(Flag("size_mismatch", f"收入调查的家庭人口 {size} 人与在册成员 {len(members)} 人不符",
                                 f"Income survey household size {size} differs from {len(members)} members",
                                 {"year": latest["year"], "survey_size": size, "members": len(members)}))
        for survey in incomes:
            reported = survey.get("reported_total_net")
            if reported is not None and abs(reported - survey["total_net"]) > rules.income_tolerance_yuan:
                findings.append(Flag("income_total_mismatch",
                                     f"{survey['year']} 年上报的家庭纯收入 {reported:g} 元与各项合计 "
                                     f"{survey['total_net']:g} 元不符",
                                     f"{survey['year']}: reported net income {reported:g} differs from the sum of "
                                     f"its parts {survey['total_net']:g}",
                                     {"year": survey["year"], "reported": reported, "computed": survey["total_net"]}))
    low, high = int(rules.school_age_min), int(rules.school_age_max)
    school_age = 0
    for member in members:
        birth = member.get("birth_date")
        if not birth:
            continue
        age = age_on(dt.date.fromisoformat(birth), today)
        schooling = member.get("schooling") or ""
        if low <= age <= high:
            school_age += 1
            if schooling and schooling not in ("义务教育", "在校生"):
                findings.append(Flag("school_age_not_in_school",
                                     f"{member['name']}（{age} 岁）处于义务教育年龄，在校状况为“{schooling}”",
                                     f"{member['name']} ({age}) is of compulsory-school age but listed as "
                                     f"'{schooling}'", {"name": member["name"], "age": age}))
        elif schooling == "义务教育" and (age > high + 3 or age < low - 1):
            findings.append(Flag("schooling_vs_age", f"{member['name']}（{age} 岁）在校状况为义务教育，与年龄不符",
                                 f"{member['name']} ({age}) is listed in compulsory schooling, which does not fit "
                                 "the age", {"name": member["name"], "age": age}))
    if visits:
        reported_children = visits[-1].get("children_6_15")
        if reported_children is not None and reported_children != school_age:
            findings.append(Flag("children_count_mismatch",
                                 f"走访填报的义务教育阶段儿童 {reported_children} 人，成员中有 {school_age} 人",
                                 f"The visit reports {reported_children} children aged {low}–{high}; the members "
                                 f"include {school_age}", {"reported": reported_children, "members": school_age}))
    return findings
