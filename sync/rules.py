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
#: the national water targets (DOMAIN.md "Precisions", Water: 自来水普及率 ≥ 85%, 集中供水率 ≥ 90%, seed 000)
TARGETS_DEFAULTS = {"tap_water_rate": 85.0, "central_water_rate": 90.0}
#: the visiting duties (sync/duties.py), when a rules file has no [duties] table
DUTIES_DEFAULTS = {"village_secretary_months": 12.0, "town_secretary_months": 12.0, "work_team_days": 20.0}


#: 监测户's kinds (DOMAIN.md "Precisions": monitoring subtypes are kept, not folded; seeds 003, 004)
UNSTABLE_EXITED, EDGE_POOR, SUDDEN_HARDSHIP = "脱贫不稳定户", "边缘易致贫户", "突发严重困难户"
MONITORING_TYPES = (UNSTABLE_EXITED, EDGE_POOR, SUDDEN_HARDSHIP)
#: the 三保障 and water answers of the visit form, each a risk of an exited or monitored household when "no",
#: with the reason the flag gives (DOMAIN.md "Precisions": a 三保障 or water gap is a risk, not only low income)
RISK_GAPS = {
    "education_secure": ("risk_education", "义务教育无保障（有适龄儿童失学辍学）",
                         "compulsory education not assured (a child out of school)"),
    "medical_secure": ("risk_medical", "基本医疗无保障（有成员未参保或慢病未签约）",
                       "basic medical care not assured (a member uninsured or a chronic patient unsigned)"),
    "housing_safe": ("risk_housing", "住房安全无保障", "housing not safe"),
    "water_safe": ("risk_water", "饮水安全无保障", "drinking water not safe"),
}
#: the flags that put a household on the 排查 list of seed 002
SCREENING_CODES = ("screening_income", "screening_dibao")
#: 在校生状况 values of a child at compulsory school (义务教育), and of anybody at school at all: a child of
#: compulsory-school age with one of IN_SCHOOL is not out of school
COMPULSORY_SCHOOLING = ("义务教育", "小学", "初中", "送教上门", "九年一贯制", "特殊教育")
IN_SCHOOL = COMPULSORY_SCHOOLING + ("在校生", "在校", "普通高中", "高中", "中职", "中专", "技工学校")
#: 与户主关系 values that name a man or a woman, for the relation-vs-sex check
MALE_RELATIONS = frozenset({"之子", "之父", "之孙子", "之外孙子", "之祖父", "之外祖父", "之兄", "之弟", "之兄弟", "之女婿",
                            "之孙女婿", "之公公", "之岳父", "之曾孙子", "之侄子", "之外甥"})
FEMALE_RELATIONS = frozenset({"之女", "之母", "之孙女", "之外孙女", "之祖母", "之外祖母", "之姐", "之妹", "之姐妹", "之儿媳",
                              "之孙媳妇", "之婆婆", "之岳母", "之曾孙女", "之侄女", "之外甥女"})
WATER_INDICATORS = {"water_quantity": ("水量", "quantity"), "water_quality": ("水质", "quality"),
                    "water_convenience": ("用水方便程度", "convenience"), "water_reliability": ("供水保证率", "reliability")}


@dataclasses.dataclass(frozen=True)
class RulesConfig:
    lines: dict[int, float]
    thresholds: dict[str, float]
    housing_subsidy: dict[str, float]
    evidence: dict[str, float] = dataclasses.field(default_factory=dict)
    checks: dict[str, float] = dataclasses.field(default_factory=lambda: dict(CHECKS_DEFAULTS))
    #: the years whose figure is a monitoring range (监测范围, from 2021), not a poverty line
    monitoring_years: frozenset[int] = frozenset()
    #: targets reports compare with (percent), e.g. tap_water_rate; not in the digest: they judge no record
    targets: dict[str, float] = dataclasses.field(default_factory=lambda: dict(TARGETS_DEFAULTS))
    #: the visiting duties (sync/duties.py): counted when coverage is asked for, never folded into a record, so
    #: they are not part of the digest (a new period must not make every record be folded again)
    duties: dict[str, float] = dataclasses.field(default_factory=lambda: dict(DUTIES_DEFAULTS))
    #: a year's own renovation subsidies per grade, where a plan changed them (rules.toml [housing_subsidy.<year>])
    subsidy_years: dict[int, dict[str, float]] = dataclasses.field(default_factory=dict)
    #: the renovation ledger's settings (sync/renovation.py): move_in_by, "MM-DD"
    renovation: dict[str, str] = dataclasses.field(default_factory=dict)
    #: the monitoring cases' settings (sync/monitoring.py, rules.toml [monitoring]): the flags that propose a case
    #: and 风险消除's conditions
    monitoring: dict[str, Any] = dataclasses.field(default_factory=dict)
    #: sha256 of the values above but `targets` and `duties`, stamped on every record folded with them: a record
    #: whose stamp differs was folded with other rules and is folded again in the background (sync/jobs.py `queue_refolds`)
    digest: str = ""

    def poverty_line(self, year: int) -> float | None:
        """The year's line, or the latest configured before it (lines are set per year, DOMAIN.md)."""
        earlier = [y for y in self.lines if y <= year]
        return self.lines[max(earlier)] if earlier else None

    def monitoring_range(self, year: int) -> bool:
        """Whether the year's figure is a monitoring range (DOMAIN.md "Precisions": after 2020 the figure in force
        is a monitoring range, not a poverty line); a year without its own figure takes the kind of the one it uses."""
        earlier = [y for y in self.lines if y <= year]
        return bool(earlier) and max(earlier) in self.monitoring_years

    def __getattr__(self, name: str) -> float:
        try:
            return self.thresholds[name]
        except KeyError:
            raise AttributeError(name) from None


def load_rules(path: Path | None = None) -> RulesConfig:
    data = tomllib.loads((path or BUNDLED_RULES).read_text(encoding="utf-8"))
    years = data.get("years", {})
    rules = RulesConfig(lines={int(y): float(v.get("monitoring_line", v.get("poverty_line")))
                               for y, v in years.items()},
                        monitoring_years=frozenset(int(y) for y, v in years.items() if "monitoring_line" in v),
                        thresholds={k: float(v) for k, v in data.get("thresholds", {}).items()},
                        housing_subsidy={k: float(v) for k, v in data.get("housing_subsidy", {}).items()
                                         if not isinstance(v, dict)},
                        subsidy_years={int(y): {k: float(v) for k, v in grades.items()}
                                       for y, grades in data.get("housing_subsidy", {}).items()
                                       if isinstance(grades, dict)},
                        renovation={k: str(v) for k, v in data.get("renovation", {}).items()},
                        monitoring=dict(data.get("monitoring", {})),
                        evidence={**EVIDENCE_DEFAULTS,
                                  **{k: float(v) for k, v in data.get("evidence", {}).items()}},
                        checks={**CHECKS_DEFAULTS, **{k: float(v) for k, v in data.get("checks", {}).items()}},
                        targets={**TARGETS_DEFAULTS, **{k: float(v) for k, v in data.get("targets", {}).items()}},
                        duties={**DUTIES_DEFAULTS, **{k: float(v) for k, v in data.get("duties", {}).items()}})
    return dataclasses.replace(rules, digest=rules_digest(rules))


def rules_digest(rules: RulesConfig) -> str:
    """The digest of the values the records are folded with, not of the file's text: a comment or a reordering
    changes nothing, and neither do the duties, which no record holds."""
    values = {"lines": rules.lines, "monitoring_years": sorted(rules.monitoring_years),
              "thresholds": rules.thresholds, "housing_subsidy": rules.housing_subsidy,
              # the ledger's figures too: a change refolds every record, which also fills a new ledger table
              "subsidy_years": rules.subsidy_years, "renovation": rules.renovation,
              # the monitoring cases' settings: a change refolds every record, which derives its cases again
              "monitoring": rules.monitoring,
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


def exit_standard(fields: dict[str, Any], income: dict[str, Any] | None, rules: RulesConfig) -> bool | None:
    """Exit standard (脱贫标准): per-capita net income above that year's line and 两不愁三保障 met (DOMAIN.md).
    None when it cannot be judged: no income was surveyed (未调查收入), or the year has no configured line."""
    if not income or income.get("per_capita") is None:
        return None
    line = rules.poverty_line(income["year"])
    if line is None:
        return None
    return income["per_capita"] > line and two_assurances_met(fields)


def exited(status: str, monitoring_type: str | None) -> bool:
    """An exited household: 已脱贫, or a 监测户 that is 脱贫不稳定户 (DOMAIN.md "Precisions")."""
    return status == "已脱贫" or (status == "监测户" and monitoring_type == UNSTABLE_EXITED)


def monitoring_flags(status: str, incomes: list[dict[str, Any]], fields: dict[str, Any], rules: RulesConfig,
                     monitoring_type: str | None = None) -> list[Flag]:
    """防止返贫监测 (DOMAIN.md "Monitoring"): income falling sharply, spending jumping, exited households under
    the line again, near-poor households, and every 三保障 / water gap of an exited or monitored household.
    `incomes` is one survey per year, oldest first."""
    return (risk_gaps(status, fields) + _income_flags(status, monitoring_type, incomes, rules)
            + screening(incomes, rules))


def risk_gaps(status: str, fields: dict[str, Any]) -> list[Flag]:
    """DOMAIN.md "Precisions": "A 三保障 or water gap in an exited household is a risk (致贫返贫风险), not only low
    income" — each gap of an exited or monitored household is a flag naming it."""
    if status not in ("已脱贫", "监测户"):
        return []
    flags = []
    for name, (code, zh, en) in RISK_GAPS.items():
        if fields.get(name) != "no":
            continue
        details: dict[str, Any] = {"field": name}
        if name == "water_safe":
            failing = [n for n in WATER_INDICATORS if fields.get(n) == "no"]
            if failing:
                details["indicators"] = failing
                zh += "：" + "、".join(WATER_INDICATORS[n][0] for n in failing) + "不达标"
                en += ": " + ", ".join(WATER_INDICATORS[n][1] for n in failing) + " below standard"
        flags.append(Flag(code, f"致贫返贫风险：{zh}", f"Risk of (re)impoverishment: {en}", details))
    return flags


def _income_flags(status: str, monitoring_type: str | None, incomes: list[dict[str, Any]],
                  rules: RulesConfig) -> list[Flag]:
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
    if line is not None and pc is not None and status not in ("未脱贫", "返贫"):
        flag = (_in_monitoring_range if rules.monitoring_range(year) else _near_line)(
            exited(status, monitoring_type), year, pc, line, rules)
        if flag:
            flags.append(flag)
    return flags


def _near_line(is_exited: bool, year: int, pc: float, line: float, rules: RulesConfig) -> Flag | None:
    """Up to 2020: an exited household under the poverty line again, or a household just above it — 脱贫不稳定 if it
    has exited, 边缘易致贫 otherwise (DOMAIN.md "Precisions": an exited household near the line is 脱贫不稳定户)."""
    details = {"year": year, "per_capita": pc, "line": line}
    if is_exited and pc < line:
        return Flag("exited_under_line", f"已脱贫户 {year} 年人均纯收入 {pc:g} 元，低于当年贫困标准 {line:g} 元",
                    f"Exited household under the {year} poverty line: {pc:g} < {line:g} yuan", details)
    if line <= pc < line * rules.near_poor_factor:
        if is_exited:
            return Flag("unstable_exit", f"脱贫不稳定：{year} 年人均纯收入 {pc:g} 元，接近贫困标准 {line:g} 元",
                        f"Unstable exit: per-capita income {pc:g} yuan close to the {year} poverty line of {line:g}",
                        details)
        return Flag("near_poor", f"边缘易致贫：{year} 年人均纯收入 {pc:g} 元，接近贫困标准 {line:g} 元",
                    f"Near-poor: per-capita income {pc:g} yuan close to the {year} poverty line of {line:g}", details)
    return None


def _in_monitoring_range(is_exited: bool, year: int, pc: float, line: float, _rules: RulesConfig) -> Flag | None:
    """From 2021 the figure is the monitoring range (监测范围), not a poverty line (DOMAIN.md "Precisions"): a household
    under it is to be monitored — 脱贫不稳定 if it has exited, 边缘易致贫 otherwise."""
    if pc >= line:
        return None
    details = {"year": year, "per_capita": pc, "line": line, "monitoring_range": True}
    if is_exited:
        return Flag("unstable_exit", f"脱贫不稳定：{year} 年人均纯收入 {pc:g} 元，在监测范围内（{line:g} 元以下）",
                    f"Unstable exit: per-capita income {pc:g} yuan within the {year} monitoring range (under "
                    f"{line:g})", details)
    return Flag("near_poor", f"边缘易致贫：{year} 年人均纯收入 {pc:g} 元，在监测范围内（{line:g} 元以下）",
                f"Near-poor: per-capita income {pc:g} yuan within the {year} monitoring range (under {line:g})",
                details)


def screening(incomes: list[dict[str, Any]], rules: RulesConfig) -> list[Flag]:
    """The 排查 list of seed 002 (DOMAIN.md "Precisions": "re-checked every registered household with per-capita net
    income under 5,000 yuan, especially those with 低保金 under 200 yuan (002): both are configuration")."""
    if not incomes:
        return []
    latest = incomes[-1]
    pc, year = latest.get("per_capita"), latest["year"]
    dibao = (latest.get("parts") or {}).get("dibao") or 0.0
    # a rules file without these figures has no 排查 list
    income_below, dibao_below = (rules.thresholds.get(k) for k in ("screening_income_yuan", "screening_dibao_yuan"))
    flags = []
    if income_below is not None and pc is not None and pc < income_below:
        flags.append(Flag("screening_income", f"排查：{year} 年人均纯收入 {pc:g} 元，低于 {income_below:g} 元",
                          f"Re-check: per-capita income {pc:g} yuan in {year}, under {income_below:g}",
                          {"year": year, "per_capita": pc, "below": income_below}))
    if dibao_below is not None and 0 < dibao < dibao_below:
        flags.append(Flag("screening_dibao", f"排查：{year} 年低保金 {dibao:g} 元，低于 {dibao_below:g} 元",
                          f"Re-check: 低保 allowance of {dibao:g} yuan in {year}, under {dibao_below:g}",
                          {"year": year, "dibao": dibao, "below": dibao_below}))
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
    findings.extend(relation_vs_sex(members))
    for member in members:
        birth = member.get("birth_date")
        if not birth:
            continue
        age = age_on(dt.date.fromisoformat(birth), today)
        schooling = member.get("schooling") or ""
        if low <= age <= high:
            school_age += 1
            if schooling and schooling not in IN_SCHOOL:
                findings.append(Flag("school_age_not_in_school",
                                     f"{member['name']}（{age} 岁）处于义务教育年龄，在校状况为“{schooling}”",
                                     f"{member['name']} ({age}) is of compulsory-school age but listed as "
                                     f"'{schooling}'", {"name": member["name"], "age": age}))
        elif schooling in COMPULSORY_SCHOOLING and (age > high + 3 or age < low - 1):
            findings.append(Flag("schooling_vs_age", f"{member['name']}（{age} 岁）在校状况为“{schooling}”（义务教育），"
                                 "与年龄不符", f"{member['name']} ({age}) is listed as '{schooling}' (compulsory "
                                 "school), which does not fit the age", {"name": member["name"], "age": age}))
    if visits:
        reported_children = visits[-1].get("children_6_15")
        if reported_children is not None and reported_children != school_age:
            findings.append(Flag("children_count_mismatch",
                                 f"走访填报的义务教育阶段儿童 {reported_children} 人，成员中有 {school_age} 人",
                                 f"The visit reports {reported_children} children aged {low}–{high}; the members "
                                 f"include {school_age}", {"reported": reported_children, "members": school_age}))
    return findings


def relation_vs_sex(members: list[dict[str, Any]]) -> list[Flag]:
    """数据质量 (DOMAIN.md "Data quality": logic errors): 之子 is a man, 之女 a woman, and so on."""
    findings = []
    for member in members:
        relation, sex = member.get("relation") or "", member.get("sex")
        expected = "男" if relation in MALE_RELATIONS else "女" if relation in FEMALE_RELATIONS else None
        if expected and sex and sex != expected:
            findings.append(Flag("relation_vs_sex", f"{member['name']}与户主关系为“{relation}”，性别却是“{sex}”",
                                 f"{member['name']} is recorded as '{relation}' but with sex '{sex}'",
                                 {"name": member["name"], "relation": relation, "sex": sex}))
    return findings
