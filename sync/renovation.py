"""The renovation ledger (危房改造台账) of one household as a pure function of its submissions, its roster entry and the
facts people entered on it: one row per C/D house, followed until the family has moved in and the old house is dealt
with.

DOMAIN.md "Precisions" (line 87): "Renovation ends only when both hold: the family has moved in and the old house
is dealt with (建新拆旧, 防止"两头住", 004). Subsidies go to the household's 一卡通 account (004); floor area is
controlled. Renovation modes include 翻建/修缮加固, 统建集体公租房, 修缮闲置公房, 置换或长期租赁农房 (001) and 易地扶贫搬迁."
Seed 004 names the 四类重点对象 whose renovation comes first and wants them moved in by the end of November; seed 001
wants a ledger (建立危改台账), subsidies by class and grade (分类分级补助) and the information published (公示).

Two kinds of input, kept apart as the problem cases keep theirs (sync/cases.py):
- observations: every housing assessment (its grade, mode, renovation progress and photos), every visit that saw the
  renovation's stage at the door (入户走访 from version 2026120701: "Progress comes from assessments and visits where
  observed", issue 19), the roster (建档立卡, a disabled member) and income surveys (低保金 received). The reconciler
  derives the ledger from them, so a rebuild gives the same rows.
- entries (`Entry`, stored as sync.renovation_models.RenovationEntry): a payment to the 一卡通, the mode, floor
  area, priority groups or deadline entered by hand, and a stage seen by someone who filled no form. They are the
  reconciler's input, never derived, never rebuilt away; each says who entered it and when.

Walking the household's assessments and visits in the fold's order (time filled, then instanceID), the first C/D
grade of an assessment opens the ledger (a visit grades nothing here); the latest C/D grade is its grade. A stage
observed, by an assessment, a visit or an entry, dates itself and every stage before it that has no date yet (a house
seen finished was started at the latest then); the earliest date of a stage wins, and `stage_sources` names what set
each date (the submission's form and instanceID, or the entry). A visit's "moved in" is read like an assessment's:
on the same site (the ledger's mode rebuild or repair) it is the end (sync.rules.renovation_progress).
"""
from __future__ import annotations

import dataclasses
import datetime as dt
from typing import Any

from sync.facts import Fact
from sync.forms import assessment, income, visit
from sync.rules import SAFE_RENOVATION, RulesConfig, renovation_progress
from sync.values import CHINA

#: the ledger's stages in order, with their labels: graded (计划, not started), started, finished, moved in, old house
#: dealt with. The last ends the renovation (DOMAIN.md line 87).
STAGES = {"planned": ("已鉴定，未开工", "graded, not started"), "building": ("已开工", "started"),
          "finished": ("已竣工", "finished"), "moved_in": ("已入住，旧房未处置", "moved in, old house not dealt with"),
          SAFE_RENOVATION: ("已入住，旧房已处置", "moved in, old house dealt with")}
STAGE_ORDER = tuple(STAGES)
#: the stage each date column records
STAGE_DATES = {"building": "started_on", "finished": "finished_on", "moved_in": "moved_in_on",
               SAFE_RENOVATION: "old_dealt_on"}
#: 改造方式: the assessment form's codes (forms/README.md) and their labels (DOMAIN.md line 89, seed 001)
MODES = {"rebuild": ("翻建（原址重建）", "rebuilt"), "repair": ("修缮加固", "repaired and reinforced"),
         "relocate": ("集中安置", "resettled in a group"), "collective_rental": ("统建集体公租房", "collective rental housing"),
         "public_repair": ("修缮闲置公房", "repaired idle public house"),
         "swap_lease": ("置换或长期租赁农房", "swapped or long-term leased house"),
         "ex_situ": ("易地扶贫搬迁", "poverty relocation"), "other": ("其他", "other")}
#: 四类重点对象 (seed 004): the households whose renovation comes first
REGISTERED, DIBAO, DESTITUTE, DISABLED = "registered", "dibao", "destitute", "disabled"
GROUPS = {REGISTERED: ("建档立卡贫困户", "registered poor household"), DIBAO: ("低保户", "minimum-allowance household"),
          DESTITUTE: ("分散供养特困人员", "destitute person supported at home"),
          DISABLED: ("贫困残疾人家庭", "poor household with a disabled member")}
#: roster statuses of a 建档立卡 household (a 监测户 is one only when it is an exited household at risk)
REGISTERED_STATUSES = ("未脱贫", "已脱贫", "返贫")
#: what a person may enter by hand
ENTRY_KINDS = ("payment", "mode", "floor_area", "groups", "deadline", "stage")


@dataclasses.dataclass(frozen=True)
class Entry:
    """A fact entered by hand (sync.renovation_models.RenovationEntry): `value` by kind — payment {"amount",
    "on"}, mode {"mode"}, floor_area {"m2"}, groups {"groups": [...]}, deadline {"on"}, stage {"stage", "on"}."""
    id: int
    kind: str
    value: dict[str, Any]
    by: str
    at: dt.datetime


def subsidy_for(rules: RulesConfig, grade: str, year: int) -> float | None:
    """The subsidy of a grade in a year (分类分级补助, seed 001): the figures of the latest configured year not after it,
    else the plan's figures (rules.toml [housing_subsidy])."""
    earlier = [y for y in rules.subsidy_years if y <= year]
    figures = rules.subsidy_years[max(earlier)] if earlier else rules.housing_subsidy
    return figures.get(grade, rules.housing_subsidy.get(grade))


def default_deadline(rules: RulesConfig, graded_on: dt.date) -> dt.date | None:
    """Moved in by the configured day of the year ("确保11月底前全部入住", seed 004; rules.toml [renovation]
    move_in_by): the first such day at least `min_months` after the house was graded, so that a house graded in
    November is not late within days. None when the rules set no day."""
    day = rules.renovation.get("move_in_by")
    if not day:
        return None
    month, day_of_month = (int(part) for part in day.split("-"))
    months = int(rules.renovation.get("min_months", "0"))
    earliest_month = graded_on.month - 1 + months
    earliest = dt.date(graded_on.year + earliest_month // 12, earliest_month % 12 + 1, 1)
    deadline = dt.date(earliest.year, month, day_of_month)
    return deadline if deadline >= earliest else dt.date(earliest.year + 1, month, day_of_month)


def observed_groups(status: str, monitoring_type: str | None, members: list[dict[str, Any]],
                    facts: list[Fact]) -> list[str]:
    """The 四类重点对象 groups the roster and the surveys show (seed 004): 建档立卡 (a registered household, or an exited
    one being monitored), 贫困残疾人家庭 (registered, with a disabled member), 低保户 (the latest income survey records
    低保金). 分散供养特困人员 is known to no form: it is entered by hand."""
    registered = status in REGISTERED_STATUSES or monitoring_type == "脱贫不稳定户"
    groups = [REGISTERED] if registered else []
    surveys = sorted((f for f in facts if f.form == income.FORM_ID and f.record.get("year")),
                     key=lambda f: (f.record["year"], f.observed_at, f.instance_id))
    if surveys and ((surveys[-1].record.get("parts") or {}).get("dibao") or 0) > 0:
        groups.append(DIBAO)
    if registered and any("残疾" in (m.get("health") or "") for m in members):
        groups.append(DISABLED)
    return groups


def _day(fact: Fact) -> str:
    """The day an assessment or a visit observed: its date question, else the day it was filled (China time)."""
    return fact.record.get("date") or fact.observed_at.astimezone(CHINA).date().isoformat()


def _reach(ledger: dict[str, Any], stage: str, on: str, source: dict[str, Any]) -> None:
    """Stage `stage` seen on `on` by `source`: it and every stage before it are reached by then; the earliest date
    wins, and its source is kept with it."""
    for earlier in STAGE_ORDER[1:STAGE_ORDER.index(stage) + 1]:
        column = STAGE_DATES[earlier]
        if ledger[column] is None or on < ledger[column]:
            ledger[column] = on
            ledger["stage_sources"][earlier] = {**source, "on": on}
    if STAGE_ORDER.index(stage) > STAGE_ORDER.index(ledger["stage"]):
        ledger["stage"] = stage


def derive_renovation(facts: list[Fact], entries: list[Entry], status: str, monitoring_type: str | None,
                      members: list[dict[str, Any]], rules: RulesConfig) -> dict[str, Any] | None:
    """The household's ledger row, or None when no assessment ever graded its house C or D."""
    timeline: list[tuple[dt.datetime, str, Any]] = [
        (f.observed_at, f.instance_id, f) for f in facts
        if (f.form == assessment.FORM_ID and f.record.get("grade"))
        or (f.form == visit.FORM_ID and f.record.get("renovation_stage") in STAGES)]
    timeline += [(e.at, f"~entry:{e.id:012d}", e) for e in entries]
    timeline.sort(key=lambda item: (item[0], item[1]))
    ledger: dict[str, Any] | None = None
    # entries and visits older than the first C/D assessment the household now has (an edit moved it later): applied
    # when the row opens, so that a payment made or a stage seen is never lost; with no C/D assessment at all they
    # are kept, not applied
    waiting: list[tuple[dt.datetime, Entry | Fact]] = []
    for at, _tiebreak, item in timeline:
        if isinstance(item, Entry) or item.form == visit.FORM_ID:
            if ledger is None:
                waiting.append((at, item))
            else:
                _apply(ledger, item, at)
            continue
        fact: Fact = item
        grade = fact.record["grade"]
        if grade not in ("C", "D"):
            if ledger is not None:
                ledger["regraded"] = {"grade": grade, "instance_id": fact.instance_id, "on": _day(fact)}
            continue
        day = _day(fact)
        opening = ledger is None
        if ledger is None:
            ledger = {"graded_on": day, "grade": grade, "assessment_instance_id": fact.instance_id, "stage": "planned",
                      "mode": None, "mode_other": None, "mode_source": None, "floor_area": None, "paid_amount": 0.0, "paid_on": None,
                      "deadline": None, "deadline_source": None, "regraded": None, "photos": [], "history": [],
                      "stage_sources": {}, **dict.fromkeys(STAGE_DATES.values())}
        ledger.update(grade=grade, assessment_instance_id=fact.instance_id, regraded=None)
        mode = fact.record.get("renovation_mode")
        if mode and ledger["mode_source"] != "entry":
            # the form keeps the assessor's own words for "other" in place of the code
            ledger.update(mode=mode if mode in MODES else "other", mode_other=None if mode in MODES else mode,
                          mode_source="assessment")
        # the form's reading already counts moving in on the same site as the end (sync.rules.renovation_progress)
        progress = fact.record.get("renovation_state") or "planned"
        if progress in STAGES:
            if progress != "planned":
                _reach(ledger, progress, day, {"form": assessment.FORM_ID, "instance_id": fact.instance_id})
            photos = fact.record.get("photos") or {}
            ledger["photos"] += [{"stage": progress, "instance_id": fact.instance_id, "role": role, "file": name,
                                  "on": day} for role, name in sorted(photos.items()) if name]
        ledger["history"].append({"at": at.isoformat(), "event": "assessed", "instance_id": fact.instance_id,
                                  "by": fact.by, "grade": grade, "stage": progress, "mode": mode})
        if opening and waiting:
            # applied once the opening assessment gave the mode (a visit's "moved in" reads by it), listed before it
            for waited_at, waited in waiting:
                _apply(ledger, waited, waited_at)
            ledger["history"] = ledger["history"][1:] + ledger["history"][:1]
    if ledger is None:
        return None
    graded_on = dt.date.fromisoformat(ledger["graded_on"])
    ledger["subsidy_year"] = graded_on.year
    ledger["subsidy"] = subsidy_for(rules, ledger["grade"], graded_on.year)
    if ledger["deadline_source"] is None:
        deadline = default_deadline(rules, graded_on)
        ledger.update(deadline=deadline.isoformat() if deadline else None, deadline_source="rules" if deadline else None)
    groups_entered = [e for e in entries if e.kind == "groups"]
    if groups_entered:
        ledger.update(groups=list(max(groups_entered, key=lambda e: (e.at, e.id)).value["groups"]), groups_source="entry")
    else:
        ledger.update(groups=observed_groups(status, monitoring_type, members, facts), groups_source="roster")
    return ledger


def _apply(ledger: dict[str, Any], item: Entry | Fact, at: dt.datetime) -> None:
    if isinstance(item, Entry):
        _enter(ledger, item, at)
    else:
        _visited(ledger, item, at)


def _visited(ledger: dict[str, Any], fact: Fact, at: dt.datetime) -> None:
    """A visit that saw the renovation's stage at the door: read like an assessment's progress (moved in on the same
    site is the end, DOMAIN.md line 87), it dates that stage and the ones before it."""
    stage = renovation_progress(fact.record["renovation_stage"], ledger["mode"])
    day = _day(fact)
    if stage != "planned":
        _reach(ledger, stage, day, {"form": visit.FORM_ID, "instance_id": fact.instance_id})
    ledger["history"].append({"at": at.isoformat(), "event": "visited", "instance_id": fact.instance_id,
                              "by": fact.by, "stage": stage})


def _enter(ledger: dict[str, Any], entry: Entry, at: dt.datetime) -> None:
    value = entry.value
    step = {"at": at.isoformat(), "event": entry.kind, "entry_id": entry.id, "by": entry.by, **value}
    if entry.kind == "payment":
        ledger["paid_amount"] = round(ledger["paid_amount"] + float(value["amount"]), 2)
        ledger["paid_on"] = max(filter(None, (ledger["paid_on"], value["on"])))
    elif entry.kind == "mode":
        ledger.update(mode=value["mode"], mode_other=None, mode_source="entry")
    elif entry.kind == "floor_area":
        ledger["floor_area"] = float(value["m2"])
    elif entry.kind == "deadline":
        ledger.update(deadline=value["on"], deadline_source="entry")
    elif entry.kind == "stage":
        _reach(ledger, value["stage"], value["on"], {"entry_id": entry.id, "by": entry.by})
    ledger["history"].append(step)


def next_stage(stage: str) -> str | None:
    """The stage a person may record next, or None when the renovation is finished (DOMAIN.md line 87)."""
    index = STAGE_ORDER.index(stage)
    return STAGE_ORDER[index + 1] if index + 1 < len(STAGE_ORDER) else None


def finished(stage: str) -> bool:
    """Moved in and the old house dealt with (DOMAIN.md line 87)."""
    return stage == SAFE_RENOVATION


def overdue(stage: str, deadline: dt.date | None, today: dt.date) -> bool:
    """Past its deadline and not finished."""
    return deadline is not None and today > deadline and not finished(stage)
