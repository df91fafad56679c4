"""Problem cases (问题清单) as a pure function of a household's observations and the decisions people made on them.

DOMAIN.md "Precisions": "Problems are closed, not only found: 三保障 and water problems are checked continuously and
cleared (常态化排查、"动态清零", 004): found → measure → resolved and signed off, by village and town."

Every visit and assessment observes some problems, present or absent. Walking the household's submissions and the
decisions in time order (the fold's order: the time the form was filled, then instanceID), a problem observed
present opens a case; help given on a visit while a case is open is a measure on it, as is a measure a person
enters; a later observation of the problem absent closes it; a supervisor's sign-off (销号, with a reason) closes
it too; and observing it present again after either reopens it. Because the result depends only on the set of
facts and decisions, replaying submissions in any order, or rebuilding, gives the same cases.

Kinds, each from the question that observes it:
- 两不愁三保障 and water, from the visit's checklist: food, clothing, education (compulsory education not assured,
  or children out of school), uninsured (a member without basic medical insurance, one case per member the visit
  names), medical (basic medical care not assured for another reason, e.g. a chronic patient not signed up),
  housing (the visit finds the house unsafe), water (drinking water not safe).
- The signs: housing_sign, water_sign (a visit or an assessment finds the sign not displayed).
- dangerous_house: an assessment grades the house C or D, until the renovation is finished (DOMAIN.md: moved in
  and the old house dealt with).
- data_quality: the findings where a visit or survey disagrees with the member list — insurance_mismatch,
  children_count_mismatch, size_mismatch. Only a person can settle them (ask the family, correct the roster or the
  next visit), so they are followed like a problem. The other findings are not cases: fill times, user names,
  photo reuse and values out of range are about how one submission was made and belong to its review; the
  roster's own logic errors (relation vs sex, schooling vs age) are corrected by the roster import.
"""
from __future__ import annotations

import dataclasses
import datetime as dt
import hashlib
import re
from typing import Any

from sync.checks import insurance_findings
from sync.facts import Fact
from sync.forms import assessment, income, visit
from sync.rules import SAFE_RENOVATION, WATER_INDICATORS, RulesConfig, quality_findings

#: kind → (Chinese, English) label, in the order lists show them
KINDS = {
    "food": ("不愁吃", "Food"),
    "clothing": ("不愁穿", "Clothing"),
    "education": ("义务教育（失学辍学）", "Compulsory education (dropout)"),
    "uninsured": ("未参加基本医保", "Member without basic medical insurance"),
    "medical": ("基本医疗", "Basic medical care"),
    "housing": ("住房安全", "Housing safety"),
    "dangerous_house": ("C/D 级危房", "Grade C/D house"),
    "water": ("饮水安全", "Drinking water"),
    "housing_sign": ("住房安全等级标识牌", "Housing-safety grade sign"),
    "water_sign": ("饮水安全标识牌", "Drinking-water sign"),
    "data_quality": ("数据待核实", "Data to verify"),
}
#: the visit's yes/no questions whose "no" is a problem of the household itself
HOUSEHOLD_GAPS = {"food_secure": "food", "clothing_secure": "clothing", "housing_safe": "housing",
                  "water_safe": "water", "housing_sign_present": "housing_sign",
                  "water_sign_present": "water_sign"}
#: the data-quality findings that open a case (see the module's docstring for why these)
QUALITY_CASES = ("insurance_mismatch", "children_count_mismatch", "size_mismatch")
#: how names are separated where a visit lists the members not insured
_NAMES = re.compile(r"[\s,，、;；/]+")
MAX_SUBJECT = 100


@dataclasses.dataclass(frozen=True)
class Decision:
    """A person's decision on a case (sync.case_models.CaseDecision): a sign-off with its reason, or a measure."""
    id: int
    case_key: str
    kind: str
    text: str
    by: str
    at: dt.datetime


@dataclasses.dataclass
class Observation:
    """What one submission says about the household's problems: those present (with what it says of them), and
    what it looked at. `looked` holds (kind, subject), or (kind, None) for every subject of that kind: a case
    looked at and not present is seen solved."""
    present: dict[tuple[str, str], dict[str, Any]]
    looked: set[tuple[str, str | None]]

    def saw(self, kind: str, subject: str) -> bool:
        return (kind, subject) in self.looked or (kind, None) in self.looked


def case_key(number: str, kind: str, subject: str) -> str:
    text = "|".join([number, kind, subject])
    return hashlib.sha256(text.encode("utf-8")).hexdigest()[:20]


def observe(fact: Fact, members: list[dict[str, Any]], rules: RulesConfig, today: dt.date) -> Observation:
    """The problems a submission observes, by its form."""
    seen = Observation({}, set())
    if fact.form == visit.FORM_ID and fact.record.get("outcome", visit.VISITED) == visit.VISITED:
        _visit(fact, seen)
        _quality(seen, members, rules, today, visits=[fact.record | {"instance_id": fact.instance_id}])
    elif fact.form == assessment.FORM_ID:
        _assessment(fact.record, seen)
    elif fact.form == income.FORM_ID and fact.record.get("year"):
        survey = {"year": fact.record["year"], "household_size": fact.record.get("household_size")}
        _quality(seen, members, rules, today, incomes=[survey])
    return seen


def _flag(seen: Observation, kind: str, answer: Any, details: dict[str, Any] | None = None) -> None:
    """A yes/no answer about the household itself: "no" is the problem present, "yes" absent, nothing unknown."""
    if answer in ("yes", "no"):
        seen.looked.add((kind, ""))
        if answer == "no":
            seen.present[(kind, "")] = details or {}


def _visit(fact: Fact, seen: Observation) -> None:
    fields, record = fact.fields, fact.record
    for name, kind in HOUSEHOLD_GAPS.items():
        details = {}
        if kind == "water":
            details = {"indicators": [n for n in WATER_INDICATORS if fields.get(n) == "no"]}
        _flag(seen, kind, fields.get(name), details)
    out_of_school = record.get("out_of_school") or 0
    education = fields.get("education_secure")
    if education == "no" or out_of_school > 0:
        seen.looked.add(("education", ""))
        seen.present[("education", "")] = {"out_of_school": out_of_school, "note": record.get("out_of_school_note")}
    elif education == "yes":
        seen.looked.add(("education", ""))
    insured = record.get("all_insured")
    if insured in ("yes", "no"):
        seen.looked.add(("uninsured", None))
    if insured == "no":
        names = [n[:MAX_SUBJECT] for n in _NAMES.split(record.get("not_insured_names") or "") if n]
        for name in names or [""]:
            seen.present[("uninsured", name)] = {"count": record.get("not_insured_count")}
    medical = fields.get("medical_secure")
    if medical == "yes" or (medical == "no" and insured != "no"):
        # not insured is its own case, per member; the rest of "not assured" (a chronic patient not signed up)
        _flag(seen, "medical", medical, {"chronic_signed": record.get("chronic_signed")})


def _assessment(record: dict[str, Any], seen: Observation) -> None:
    grade = record.get("grade")
    if grade:
        seen.looked.add(("dangerous_house", ""))
        progress = record.get("renovation_state") or ""
        if grade in ("C", "D") and progress != SAFE_RENOVATION:
            seen.present[("dangerous_house", "")] = {"grade": grade, "renovation_state": progress}
    _flag(seen, "housing_sign", record.get("sign_present"))


def _quality(seen: Observation, members: list[dict[str, Any]], rules: RulesConfig, today: dt.date,
             visits: list[dict[str, Any]] = (), incomes: list[dict[str, Any]] = ()) -> None:
    """The data-quality findings of this one submission against the current members."""
    codes = ("insurance_mismatch", "children_count_mismatch") if visits else ("size_mismatch",)
    found = [f.to_dict() for f in quality_findings(members, list(incomes), list(visits), rules, today)]
    found += insurance_findings(members, list(visits))
    for code in codes:
        seen.looked.add(("data_quality", code))
    for item in found:
        if item["code"] in codes:
            seen.present[("data_quality", item["code"])] = {"message_zh": item["message_zh"],
                                                            "message_en": item["message_en"]}


def _help(record: dict[str, Any]) -> dict[str, Any] | None:
    """The measures a visit records (帮扶措施: concrete help, never a visit itself), or None."""
    codes = record.get("help_given") or []
    if not codes and not record.get("help_other") and not record.get("help_note"):
        return None
    return {"codes": list(codes), "other": record.get("help_other"), "note": record.get("help_note")}


def derive_cases(number: str, facts: list[Fact], decisions: list[Decision], members: list[dict[str, Any]],
                 rules: RulesConfig, today: dt.date) -> list[dict[str, Any]]:
    """The household's cases, by key. `facts` are the submissions applied to its record, `members` its current
    members (the data-quality checks compare each submission with them)."""
    timeline: list[tuple[dt.datetime, str, Any]] = [(f.observed_at, f.instance_id, f) for f in facts]
    timeline += [(d.at, f"~decision:{d.id:012d}", d) for d in decisions]
    timeline.sort(key=lambda item: (item[0], item[1]))
    cases: dict[str, dict[str, Any]] = {}
    for at, _tiebreak, item in timeline:
        if isinstance(item, Decision):
            _decide(cases.get(item.case_key), item)
            continue
        fact: Fact = item
        seen = observe(fact, members, rules, today)
        for (kind, subject), details in sorted(seen.present.items()):
            key = case_key(number, kind, subject)
            case = cases.get(key)
            if case is None:
                cases[key] = case = {"key": key, "kind": kind, "subject": subject, "state": "open",
                                     "history": []}
                _open(case, fact, at, details, "opened")
            elif case["state"] in ("closed", "signed_off"):
                _open(case, fact, at, details, "reopened")
        for case in cases.values():
            if case["state"] in ("open", "reopened") and (case["kind"], case["subject"]) not in seen.present \
                    and seen.saw(case["kind"], case["subject"]):
                case.update(state="closed", closed_at=at.isoformat(), closing_instance_id=fact.instance_id,
                            closing_decision_id=None)
                case["history"].append({"at": at.isoformat(), "event": "closed", "instance_id": fact.instance_id,
                                        "by": fact.by})
        help_given = _help(fact.record) if fact.form == visit.FORM_ID else None
        if help_given:
            for case in cases.values():
                if case["state"] in ("open", "reopened"):
                    _measure(case, at, {"instance_id": fact.instance_id, "by": fact.by, "help": help_given})
    return [cases[key] for key in sorted(cases)]


def _open(case: dict[str, Any], fact: Fact, at: dt.datetime, details: dict[str, Any], event: str) -> None:
    case.update(state="open" if event == "opened" else "reopened", opened_at=at.isoformat(),
                source_instance_id=fact.instance_id, closed_at=None, closing_instance_id=None,
                closing_decision_id=None, details=details)
    case.setdefault("last_measure_at", None)
    case["history"].append({"at": at.isoformat(), "event": event, "instance_id": fact.instance_id, "by": fact.by,
                            "details": details})


def _measure(case: dict[str, Any], at: dt.datetime, step: dict[str, Any]) -> None:
    case["last_measure_at"] = at.isoformat()
    case["history"].append({"at": at.isoformat(), "event": "measure", **step})


def _decide(case: dict[str, Any] | None, decision: Decision) -> None:
    """A measure counts whenever it was entered; a sign-off closes the case only while it is open (a case an
    observation closed first keeps that closing)."""
    if case is None:  # a decision on a case its household no longer shows (the submission was edited away)
        return
    step = {"decision_id": decision.id, "by": decision.by, "text": decision.text}
    if decision.kind == "measure":
        _measure(case, decision.at, step)
    elif case["state"] in ("open", "reopened"):
        case.update(state="signed_off", closed_at=decision.at.isoformat(), closing_instance_id=None,
                    closing_decision_id=decision.id)
        case["history"].append({"at": decision.at.isoformat(), "event": "signed_off", **step})
