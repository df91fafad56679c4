"""Monitoring cases (防止返贫监测, 监测对象) of one household as a pure function of its submissions and the decisions
people made on them.

DOMAIN.md "Precisions" (line 91): "Monitoring subtypes are kept, not folded: 脱贫不稳定户 (an exited household at
risk), 边缘易致贫户 (a non-registered household near the line), 突发严重困难户 (sudden hardship) (003, 004). An exited
household near the line is 脱贫不稳定户, never 边缘易致贫户. A monitoring case goes 识别/纳入 → 帮扶措施 → 风险消除, each
a dated decision by someone. A 三保障 or water gap in an exited household is a risk (致贫返贫风险), not only low
income." Line 99: the 排查 list of seed 002 (per-capita income under 5,000 yuan, 低保金 under 200) is configuration.

A case goes 提议 (proposed) → 纳入 (identified, with a subtype and risk types) → 帮扶措施 (helped: at least one
measure) → 风险消除 (removed), or 不纳入 (dismissed). Two kinds of input, kept apart as the problem cases keep theirs
(sync/cases.py):
- observations: each submission, walked in the fold's order (time filled, then instanceID). An income survey whose
  surveyed years raise one of the reconciler's flags named in rules.toml [monitoring] proposing_flags (income drop,
  spending jump, the monitoring range, the 排查 list), a visit that finds a 三保障/water gap of an exited or
  monitored household (sync.rules.risk_gaps) or ticks a problem that is a risk (RISK_PROBLEMS), and the
  monitoring_report form (sync/forms/monitoring.py) each trigger: with no case under way they propose one, keyed by
  the submission that opened it (its first version: an edit keeps the case); on a case under way they add their evidence. Help given on a visit (or the
  measures of a monitoring report) while the case is 纳入 is a measure on it.
- decisions (`Decision`, stored as sync.monitoring_models.MonitoringDecision): 纳入 (with subtype and risk types),
  不纳入, 风险消除, each with a reason, and measures entered by hand. They are the reconciler's input, never derived,
  never rebuilt away; each says who made it and when.

A case ended (风险消除 or 不纳入) is never reopened: a later trigger proposes a new case. Because the result depends
only on the set of facts and decisions (and the day the conditions are judged on), replaying submissions in any
order, or rebuilding, gives the same cases.
"""
from __future__ import annotations

import dataclasses
import datetime as dt
import hashlib
from typing import Any

from sync.facts import Fact
from sync.forms import income, visit
from sync.forms import monitoring as report
from sync.rules import (EDGE_POOR, MONITORING_TYPES, SUDDEN_HARDSHIP, UNSTABLE_EXITED, RulesConfig, exited,
                        monitoring_flags, risk_gaps)
from sync.values import CHINA

REPORT_FORM = report.FORM_ID
#: state code → (Chinese, English), in the order of the procedure
STATES = {"proposed": ("提议", "proposed"), "identified": ("已纳入", "identified"),
          "helped": ("帮扶中", "measures under way"), "removed": ("风险已消除", "risk removed"),
          "dismissed": ("不纳入", "dismissed")}
ENDED = ("removed", "dismissed")
UNDER_WAY = ("identified", "helped")
#: 风险类型 (issue 19; seeds 003, 004)
RISKS = {"illness": ("因病", "illness"), "disability": ("因残", "disability"), "schooling": ("因学", "schooling"),
         "disaster": ("因灾", "disaster"), "accident": ("因意外", "accident"), "epidemic": ("因疫", "epidemic"),
         "industry": ("产业失败", "failed business"), "employment": ("就业失败", "lost employment"),
         "other": ("其他", "other")}
#: subtype → English label (the Chinese is the code, as the roster keeps it: sync.rules.MONITORING_TYPES)
SUBTYPES = {UNSTABLE_EXITED: "unstable exited household", EDGE_POOR: "near-poor household",
            SUDDEN_HARDSHIP: "household in sudden severe hardship"}
#: the visit's problem codes (sync.forms.visit.PROBLEMS) that are a risk, and the risk type each suggests
RISK_PROBLEMS = {"income": "other", "illness": "illness", "disability": "disability", "schooling_cost": "schooling",
                 "disaster": "disaster", "employment": "employment", "unsold": "industry"}
#: the flags that suggest a risk type of their own
FLAG_RISKS = {"risk_medical": "illness", "risk_education": "schooling"}
#: the risks that make a household's hardship sudden (突发严重困难户) when it is not an exited one
SUDDEN_RISKS = ("disaster", "accident", "epidemic")
#: decision kinds: the three a supervisor or admin makes, and a measure entered by hand
INCLUDE, DISMISS, REMOVE, MEASURE = "include", "dismiss", "remove", "measure"
DECISION_KINDS = (INCLUDE, DISMISS, REMOVE, MEASURE)
#: the state a decision needs the case to be in
NEEDS = {INCLUDE: ("proposed",), DISMISS: ("proposed",), REMOVE: UNDER_WAY, MEASURE: UNDER_WAY}
#: [monitoring] defaults, when a rules file has none
MONITORING_DEFAULTS: dict[str, Any] = {
    "proposing_flags": ["income_drop", "spending_jump", "risk_education", "risk_medical", "risk_housing",
                        "risk_water", "exited_under_line", "unstable_exit", "near_poor", "screening_income",
                        "screening_dibao"],
    "min_months": 6, "min_measures": 1,
    "blocking_case_kinds": ["food", "clothing", "education", "uninsured", "medical", "housing", "dangerous_house",
                            "water"]}
#: 风险消除's conditions: code → (Chinese, English)
CONDITIONS = {
    "income": ("纳入后调查的人均纯收入高于当年监测标准", "per-capita income surveyed after identification above the year's line"),
    "months": ("纳入已满 {n} 个月", "identified at least {n} months ago"),
    "no_problem": ("没有未解决的三保障或饮水安全问题", "no open 三保障 or drinking-water problem"),
    "measures": ("至少有 {n} 项帮扶措施", "at least {n} measure(s)"),
}


@dataclasses.dataclass(frozen=True)
class Decision:
    """A person's decision on a case (sync.monitoring_models.MonitoringDecision): `value` by kind — include
    {"subtype", "risks": [...]}, measure {"codes": [...]} (may be empty); `text` the reason or the measure."""
    id: int
    case_key: str
    kind: str
    value: dict[str, Any]
    text: str
    by: str
    at: dt.datetime


def case_key(number: str, instance_id: str) -> str:
    """A case is named by its household and the submission that proposed it (the first version's instance id, so
    that an edit of that submission keeps the case and its decisions): its decisions find it after a rebuild."""
    return hashlib.sha256(f"{number}|monitoring|{instance_id}".encode("utf-8")).hexdigest()[:20]


def settings(rules: RulesConfig) -> dict[str, Any]:
    return {**MONITORING_DEFAULTS, **rules.monitoring}


def suggested_subtype(is_exited: bool, risks: list[str]) -> str:
    """DOMAIN.md line 91: an exited household at risk is 脱贫不稳定户, never 边缘易致贫户; another household is 突发严重
    困难户 when the risk is sudden, else 边缘易致贫户."""
    if is_exited:
        return UNSTABLE_EXITED
    return SUDDEN_HARDSHIP if any(r in SUDDEN_RISKS for r in risks) else EDGE_POOR


def subtype_refusal(subtype: str, is_exited: bool) -> tuple[str, str] | None:
    """Why a subtype does not fit the household (DOMAIN.md line 91), or None: an exited household is never
    边缘易致贫户, and only an exited one is 脱贫不稳定户."""
    if subtype not in MONITORING_TYPES:
        return "请选择监测对象类型。", "Choose a monitoring subtype."
    if is_exited and subtype == EDGE_POOR:
        return ("已脱贫户有返贫风险的是脱贫不稳定户，不是边缘易致贫户。",
                "An exited household at risk is an unstable exited household, never a near-poor one.")
    if not is_exited and subtype == UNSTABLE_EXITED:
        return "只有已脱贫户才是脱贫不稳定户。", "Only an exited household is an unstable exited household."
    return None


def _triggers(fact: Fact, status: str, monitoring_type: str | None, surveys: dict[int, dict[str, Any]],
              proposing: set[str], rules: RulesConfig) -> dict[str, Any] | None:
    """What one submission says that calls for monitoring: {"flags", "problems", "risks", ...}, or None."""
    flags: list[str] = []
    problems: list[str] = []
    risks: list[str] = []
    extra: dict[str, Any] = {}
    if fact.form == income.FORM_ID and fact.record.get("year"):
        incomes = [surveys[year] for year in sorted(surveys)]
        # the flags of the surveys as they stand once this one is counted, from this survey's year only
        flags = [f.code for f in monitoring_flags(status, incomes, {}, rules, monitoring_type)
                 if f.details.get("year") == fact.record["year"]]
    elif fact.form == visit.FORM_ID and fact.record.get("outcome", visit.VISITED) == visit.VISITED:
        flags = [f.code for f in risk_gaps(status, fact.fields)]
        problems = [p for p in fact.record.get("problems") or [] if p in RISK_PROBLEMS]
        risks = [RISK_PROBLEMS[p] for p in problems]
    elif fact.form == REPORT_FORM:
        risks = [r for r in fact.record.get("risks") or [] if r in RISKS]
        extra = {k: fact.record.get(k) for k in ("subtype", "situation", "income_estimate")
                 if fact.record.get(k) not in (None, "")}
        if not risks and not extra:
            return None
        return {"flags": [], "problems": [], "risks": risks or ["other"], **extra}
    flags = [code for code in flags if code in proposing]
    risks += [FLAG_RISKS[code] for code in flags if code in FLAG_RISKS]
    if not flags and not problems:
        return None
    return {"flags": flags, "problems": problems, "risks": list(dict.fromkeys(risks))}


def _measures_of(fact: Fact) -> dict[str, Any] | None:
    """The measures a visit or a monitoring report records (帮扶措施: concrete help, never a visit itself, DOMAIN.md
    "A visit is not help"), or None."""
    record = fact.record
    if fact.form == visit.FORM_ID:
        codes = record.get("help_given") or []
        if not codes and not record.get("help_other") and not record.get("help_note"):
            return None
        return {"codes": list(codes), "text": " ".join(filter(None, (record.get("help_other"),
                                                                     record.get("help_note"))))}
    if fact.form == REPORT_FORM:
        codes = record.get("measures") or []
        if not codes and not record.get("measures_note"):
            return None
        return {"codes": list(codes), "text": record.get("measures_note") or ""}
    return None


def derive_monitoring(number: str, facts: list[Fact], decisions: list[Decision], status: str,
                      monitoring_type: str | None, open_case_kinds: list[str], rules: RulesConfig,
                      today: dt.date, roots: dict[str, str] | None = None) -> list[dict[str, Any]]:
    """The household's monitoring cases, oldest first. `open_case_kinds` are the kinds of its problem cases still
    open (sync/cases.py), which 风险消除 waits for; `today` (China) is the day the conditions are judged on; `roots`
    maps an edited submission's instance id to its first version's, which keys the case it proposes."""
    config = settings(rules)
    proposing = set(config["proposing_flags"])
    is_exited = exited(status, monitoring_type)
    timeline: list[tuple[dt.datetime, str, Any]] = [(f.observed_at, f.instance_id, f) for f in facts]
    timeline += [(d.at, f"~decision:{d.id:012d}", d) for d in decisions]
    timeline.sort(key=lambda item: (item[0], item[1]))
    cases: list[dict[str, Any]] = []
    by_key: dict[str, dict[str, Any]] = {}
    surveys: dict[int, dict[str, Any]] = {}
    for at, _tiebreak, item in timeline:
        if isinstance(item, Decision):
            _decide(by_key.get(item.case_key), item, is_exited)
            continue
        fact: Fact = item
        if fact.form == income.FORM_ID:
            kept = income.keep(fact, at)
            if kept is not None:
                surveys[kept[0]] = {**kept[1], "observed_at": at.isoformat()}
        current = cases[-1] if cases and cases[-1]["state"] not in ENDED else None
        found = _triggers(fact, status, monitoring_type, surveys, proposing, rules)
        if found:
            evidence = {"at": at.isoformat(), "instance_id": fact.instance_id, "form": fact.form, "by": fact.by,
                        **found}
            if current is None:
                current = _propose(number, fact, (roots or {}).get(fact.instance_id, fact.instance_id), at,
                                   evidence, is_exited)
                cases.append(current)
                by_key[current["key"]] = current
            else:
                current["evidence"].append(evidence)
                current["suggested_risks"] = list(dict.fromkeys(current["suggested_risks"] + found["risks"]))
                current["history"].append({"at": at.isoformat(), "event": "evidence",
                                           "instance_id": fact.instance_id, "by": fact.by})
        measures = _measures_of(fact)
        if measures and current is not None and current["state"] in UNDER_WAY:
            _measure(current, at, {"source": "submission", "instance_id": fact.instance_id, "form": fact.form,
                                   "by": fact.by, **measures})
    latest = surveys[max(surveys)] if surveys else None
    for case in cases:
        case["conditions"] = conditions(case, latest, open_case_kinds, rules, today) \
            if case["state"] in UNDER_WAY else []
    return cases


def _propose(number: str, fact: Fact, root: str, at: dt.datetime, evidence: dict[str, Any],
             is_exited: bool) -> dict[str, Any]:
    risks = evidence["risks"]
    subtype = evidence.get("subtype") if evidence.get("subtype") in MONITORING_TYPES else None
    if subtype is None or subtype_refusal(subtype, is_exited):
        subtype = suggested_subtype(is_exited, risks)
    return {"key": case_key(number, root), "state": "proposed", "proposed_at": at.isoformat(),
            "source_instance_id": fact.instance_id, "suggested_subtype": subtype, "suggested_risks": list(risks),
            "subtype": None, "risks": [], "identified_at": None, "identified_by": None, "ended_at": None,
            "ended_by": None, "reason": None, "evidence": [evidence], "measures": [],
            "history": [{"at": at.isoformat(), "event": "proposed", "instance_id": fact.instance_id,
                         "by": fact.by}]}


def _measure(case: dict[str, Any], at: dt.datetime, measure: dict[str, Any]) -> None:
    case["measures"].append({"at": at.isoformat(), **measure})
    if case["state"] == "identified":
        case["state"] = "helped"
    case["history"].append({"at": at.isoformat(), "event": "measure", "by": measure.get("by")})


def _decide(case: dict[str, Any] | None, decision: Decision, is_exited: bool) -> None:
    """A decision counts when its case is in the state it needs (checked when it was entered; a submission edited
    away since may leave it without its case, or its case elsewhere): otherwise it is kept, and shown, unapplied."""
    if case is None:
        return
    at = decision.at.isoformat()
    step = {"at": at, "event": decision.kind, "decision_id": decision.id, "by": decision.by, "text": decision.text}
    if case["state"] not in NEEDS[decision.kind]:
        case["history"].append({**step, "event": "not_applied", "kind": decision.kind})
        return
    if decision.kind == MEASURE:
        _measure(case, decision.at, {"source": "entry", "decision_id": decision.id, "by": decision.by,
                                     "codes": list(decision.value.get("codes") or []), "text": decision.text})
        return
    if decision.kind == INCLUDE:
        case.update(state="identified", subtype=decision.value.get("subtype"),
                    risks=list(decision.value.get("risks") or []), identified_at=at, identified_by=decision.by,
                    reason=decision.text)
    else:
        case.update(state="removed" if decision.kind == REMOVE else "dismissed", ended_at=at, ended_by=decision.by,
                    reason=decision.text)
    case["history"].append({**step, **({"subtype": case["subtype"], "risks": case["risks"]}
                                       if decision.kind == INCLUDE else {})})


def _add_months(day: dt.date, months: int) -> dt.date:
    index = day.month - 1 + months
    year, month = day.year + index // 12, index % 12 + 1
    for last in (31, 30, 29, 28):
        try:
            return dt.date(year, month, min(day.day, last))
        except ValueError:
            continue
    raise ValueError(day)


def conditions(case: dict[str, Any], latest_survey: dict[str, Any] | None, open_case_kinds: list[str],
               rules: RulesConfig, today: dt.date) -> list[dict[str, Any]]:
    """风险消除's conditions (rules.toml [monitoring]), each met or not, for a case under way: the latest income
    survey, surveyed after 纳入, above its year's line (the monitoring range from 2021, DOMAIN.md line 97); at least
    min_months since 纳入; no open problem case of the blocking kinds (DOMAIN.md line 91: a 三保障 or water gap is a
    risk); at least min_measures measures."""
    config = settings(rules)
    identified = dt.datetime.fromisoformat(case["identified_at"])
    months, measures = int(config["min_months"]), int(config["min_measures"])
    income_met, income_details = False, {}
    if latest_survey and latest_survey.get("per_capita") is not None:
        line = rules.poverty_line(latest_survey["year"])
        after = dt.datetime.fromisoformat(latest_survey["observed_at"]) >= identified
        income_met = line is not None and after and latest_survey["per_capita"] > line
        income_details = {"year": latest_survey["year"], "per_capita": latest_survey["per_capita"], "line": line,
                          "surveyed_after": after, "instance_id": latest_survey["instance_id"]}
    since = _add_months(identified.astimezone(CHINA).date(), months)
    blocking = sorted(set(open_case_kinds) & set(config["blocking_case_kinds"]))
    found = [
        ("income", income_met, income_details),
        ("months", today >= since, {"n": months, "from": since.isoformat()}),
        ("no_problem", not blocking, {"open": blocking}),
        ("measures", len(case["measures"]) >= measures, {"n": measures, "count": len(case["measures"])}),
    ]
    return [{"code": code, "met": met, "zh": CONDITIONS[code][0].format(n=details.get("n")),
             "en": CONDITIONS[code][1].format(n=details.get("n")), "details": details}
            for code, met, details in found]


def as_of(case_conditions: list[dict[str, Any]], today: dt.date) -> list[dict[str, Any]]:
    """The conditions as they stand on `today`: the months since 纳入 pass without any new submission, so that one is
    judged again on reading (the others change only with a submission or a decision, which reconciles the case)."""
    return [{**c, "met": today >= dt.date.fromisoformat(c["details"]["from"])} if c["code"] == "months" else c
            for c in case_conditions]


def unmet(case_conditions: list[dict[str, Any]]) -> list[dict[str, Any]]:
    return [c for c in case_conditions if not c["met"]]
