"""The reconciler's core: a household's record as a pure function of its roster entry and its submissions.

`fold` sorts the facts by the time the form was filled (then instanceID, so that ties are deterministic) and
lets the newest observation win per field. Because the result depends only on the set of facts and never on
the order they arrived in, replaying submissions in any order gives the same record, applying one twice
changes nothing, and an edit (which replaces the fact it edits in the set) replaces its effect.

Conflicts: submissions made from the same entity version (baseVersion) that set a field to different values
open a conflict on that field. The record keeps the newest value meanwhile; a supervisor's resolution is an
observation at the time of resolving, and so wins until someone observes the field again.
"""
from __future__ import annotations

import dataclasses
import datetime as dt
import hashlib
from collections import defaultdict
from typing import Any

from sync.checks import fact_findings, insurance_findings
from sync.facts import Fact
from sync.forms import DEFINITIONS, definition
from sync.rules import RulesConfig, dangerous_house, exit_standard, monitoring_flags, quality_findings

ADDS = ("birth", "moved_in", "marriage_in")
REMOVES = ("death", "moved_out", "marriage_out")
#: a survey's income crossing the year's figure: the poverty line up to 2020, the monitoring range (监测范围) after
LINE_CROSSINGS = {(False, True): "income_above_line", (False, False): "income_below_line",
                  (True, True): "income_out_of_monitoring_range", (True, False): "income_into_monitoring_range"}
CONSEQUENCES = ("member_added", "member_removed", *LINE_CROSSINGS.values())


@dataclasses.dataclass(frozen=True)
class Baseline:
    number: str
    status: str
    #: roster members as dicts (name, id_number, relation, sex, birth_date ISO, schooling, insured, health, labour)
    members: list[dict[str, Any]]
    #: the kind of 监测户 as registered (sync.rules.MONITORING_TYPES), None for other statuses or when not given
    monitoring_type: str | None = None


@dataclasses.dataclass(frozen=True)
class Resolution:
    conflict_key: str
    field: str
    value: Any
    by: str
    at: dt.datetime


@dataclasses.dataclass
class Record:
    fields: dict[str, dict[str, Any]]
    members: list[dict[str, Any]]
    visits: list[dict[str, Any]]
    assessments: list[dict[str, Any]]
    incomes: list[dict[str, Any]]
    events: list[dict[str, Any]]
    conflicts: list[dict[str, Any]]
    flags: list[dict[str, Any]]
    findings: list[dict[str, Any]]
    #: meets the exit standard; None when it cannot be judged (no income surveyed)
    exit_eligible: bool | None

    def value(self, name: str) -> Any:
        entry = self.fields.get(name)
        return entry["value"] if entry else None

    def values(self) -> dict[str, Any]:
        return {name: entry["value"] for name, entry in self.fields.items()}


def conflict_key(number: str, field: str, base_version: int, instance_ids: list[str]) -> str:
    text = "|".join([number, field, str(base_version), *sorted(instance_ids)])
    return hashlib.sha256(text.encode("utf-8")).hexdigest()[:20]


def fold(baseline: Baseline, facts: list[Fact], resolutions: list[Resolution], rules: RulesConfig,
         today: dt.date) -> Record:
    ordered = sorted(facts, key=lambda f: (f.observed_at, f.instance_id))
    fields: dict[str, dict[str, Any]] = {"status": {"value": baseline.status, "source": "roster"}}
    if baseline.monitoring_type:
        fields["monitoring_type"] = {"value": baseline.monitoring_type, "source": "roster"}
    members = [dict(m) for m in baseline.members]
    events: list[dict[str, Any]] = []
    # per form's collection: entries by key (the newest of a key replaces the older), in time order
    kept: dict[str, dict[Any, dict[str, Any]]] = {d.collection: {} for d in DEFINITIONS.values() if d.collection}
    by_key: set[str] = set()  # collections that keep one entry per key, shown in key order (a survey's year)
    findings: list[dict[str, Any]] = []

    timeline = [(f.observed_at, f.instance_id, f) for f in ordered]
    timeline += [(r.at, f"~resolution:{r.conflict_key}", r) for r in resolutions]
    timeline.sort(key=lambda item: (item[0], item[1]))
    for at, _tiebreak, item in timeline:
        if isinstance(item, Resolution):
            fields[item.field] = {"value": item.value, "source": "resolution", "conflict": item.conflict_key,
                                  "by": item.by, "at": at.isoformat()}
            events.append({"at": at.isoformat(), "kind": "conflict_resolved", "by": item.by,
                           "summary": {"field": item.field, "value": item.value, "conflict": item.conflict_key}})
            continue
        fact: Fact = item
        provenance = {"source": "submission", "instance_id": fact.instance_id, "form": fact.form, "by": fact.by,
                      "at": at.isoformat()}
        for name, value in fact.fields.items():
            fields[name] = {"value": value, **provenance}
        findings.extend(fact.findings)
        findings.extend(fact_findings(fact, rules.checks))
        form = definition(fact.form)
        event = {"at": at.isoformat(), "kind": fact.form, "instance_id": fact.instance_id, "by": fact.by,
                 "summary": form.summary(fact.record) if form else {}}
        events.append(event)
        entry = form.keep(fact, at) if form else None
        if entry is not None:
            key, value = entry
            if form.collection:
                kept[form.collection][fact.instance_id if key is None else key] = value
                if key is not None:
                    by_key.add(form.collection)
            else:
                event["record"] = value
        _apply_member_changes(members, fact, events, findings)

    collections = {name: [entries[k] for k in (sorted(entries) if name in by_key else entries)]
                   for name, entries in kept.items()}
    for form in DEFINITIONS.values():
        if form.derive and form.collection:
            fields.update(form.derive(collections[form.collection]))
    visits, assessments, incomes = (collections.get(name, []) for name in ("visits", "assessments", "incomes"))
    events.extend(_line_crossings(incomes, rules))
    # an event a submission caused comes right after the submission's own event
    events.sort(key=lambda e: (e["at"], e["kind"] in CONSEQUENCES, e["kind"], e.get("instance_id") or ""))

    conflicts = _conflicts(baseline.number, ordered, resolutions, fields)
    values = {name: entry["value"] for name, entry in fields.items()}
    flags = [f.to_dict() for f in monitoring_flags(baseline.status, incomes, values, rules,
                                                        baseline.monitoring_type)]
    house = dangerous_house(values, rules)
    if house:
        flags.append(house.to_dict())
    findings.extend(f.to_dict() for f in quality_findings(members, incomes, visits, rules, today))
    findings.extend(insurance_findings(members, visits))
    return Record(fields=fields, members=members, visits=visits, assessments=assessments, incomes=incomes,
                  events=events, conflicts=conflicts, flags=flags, findings=findings,
                  exit_eligible=exit_standard(values, incomes[-1] if incomes else None, rules))


def _apply_member_changes(members: list[dict[str, Any]], fact: Fact, events: list[dict[str, Any]],
                          findings: list[dict[str, Any]]) -> None:
    for change in fact.member_changes:
        kind = change["type"]
        event = {"at": fact.observed_at.isoformat(), "instance_id": fact.instance_id, "by": fact.by,
                 "summary": {k: v for k, v in change.items() if k != "id_number"}}
        if kind in ADDS:
            known = any(m.get("id_number") and m.get("id_number") == change["id_number"] for m in members)
            if not known:
                members.append({"name": change["name"], "id_number": change["id_number"],
                                "relation": change["relation"], "birth_date": _birth_date(change),
                                "since": change["date"], "source": fact.instance_id})
            events.append({**event, "kind": "member_added"})
        elif kind in REMOVES:
            match = _find_member(members, change)
            if match is None:
                findings.append({"code": "member_change_unknown",
                                 "message_zh": f"成员变动（{kind}）找不到成员“{change['name']}”",
                                 "message_en": f"Member change ({kind}) names an unknown member '{change['name']}'",
                                 "details": {"instance_id": fact.instance_id, "name": change["name"]}})
            else:
                members.remove(match)
            events.append({**event, "kind": "member_removed"})


def _birth_date(change: dict[str, Any]) -> str | None:
    if change["type"] == "birth":
        return change["date"]
    number = change.get("id_number") or ""
    if len(number) != 18:
        return None
    try:  # the ID number's birth date (digits 7-14), when it is a date: the rules compute ages from it
        return dt.date(int(number[6:10]), int(number[10:12]), int(number[12:14])).isoformat()
    except ValueError:
        return None


def _find_member(members: list[dict[str, Any]], change: dict[str, Any]) -> dict[str, Any] | None:
    if change.get("id_number"):
        for member in members:
            if member.get("id_number") == change["id_number"]:
                return member
    return next((m for m in members if m.get("name") == change["name"]), None)


def _line_crossings(incomes: list[dict[str, Any]], rules: RulesConfig) -> list[dict[str, Any]]:
    """Status changes as events: the household's income crossing the year's figure from one survey to the next; from
    2021 that figure is a monitoring range, and the event says so (DOMAIN.md "Precisions": the lines change meaning)."""
    events, above = [], None
    for survey in incomes:
        line = rules.poverty_line(survey["year"])
        if line is None or survey["per_capita"] is None:
            continue
        now_above = survey["per_capita"] > line
        if above is not None and now_above != above:
            kind = LINE_CROSSINGS[(rules.monitoring_range(survey["year"]), now_above)]
            events.append({"at": survey["provenance"]["at"], "kind": kind, "instance_id": survey["instance_id"],
                           "summary": {"year": survey["year"], "per_capita": survey["per_capita"], "line": line}})
        above = now_above
    return events


def _conflicts(number: str, ordered: list[Fact], resolutions: list[Resolution],
               fields: dict[str, dict[str, Any]]) -> list[dict[str, Any]]:
    groups: dict[tuple[int, str], list[Fact]] = defaultdict(list)
    for fact in ordered:
        if fact.entity_update and fact.base_version is not None:
            for name in fact.fields:
                groups[(fact.base_version, name)].append(fact)
    resolved = {r.conflict_key: r for r in resolutions}
    conflicts = []
    for (base, name), group in sorted(groups.items()):
        if len({repr(f.fields[name]) for f in group}) < 2:
            continue
        ids = [f.instance_id for f in group]
        key = conflict_key(number, name, base, ids)
        winner = fields.get(name, {})
        if key in resolved:
            state = "resolved"
        elif winner.get("source") == "submission" and winner.get("instance_id") not in ids:
            state = "superseded"  # a later observation from a newer version settled the field
        else:
            state = "open"
        resolution = resolved.get(key)
        conflicts.append({
            "key": key, "field": name, "base_version": base, "state": state,
            "entries": [{"instance_id": f.instance_id, "value": f.fields[name], "by": f.by,
                         "at": f.observed_at.isoformat()} for f in group],
            "current": winner.get("value"),
            "resolution": None if resolution is None else {"value": resolution.value, "by": resolution.by,
                                                           "at": resolution.at.isoformat()},
        })
    return conflicts
