"""The monthly report (月调度 / 月通报): the tables a town or county sends upward each month, by town and village.

Pure counting over what the reconciler keeps, for the caller's areas below `area_code`:

- 走访覆盖: households to visit, verified, questionable and not visited that month, as the coverage page counts;
- 两不愁三保障和饮水安全: households whose record now says a guarantee is not met (each household field of the
  forms' registry that reads yes/no: 不愁吃, 不愁穿, 义务教育, 基本医疗, 住房安全, 饮水安全);
- 供水方式: of the households whose supply a visit recorded, how many have tap water in the house and how many
  central supply, as 自来水普及率 and 集中供水率 against the targets in the rules (DOMAIN.md "Precisions", Water);
- 危房改造: C and D houses, and the renovation progress of each;
- 户类型: households by their roster status, a 监测户 by its kind where the roster gives it;
- 风险与数据质量: households with a monitoring flag, with a data-quality finding, and how many of each.

Every table has a row per village, a subtotal per town and a total. Problems are counted as the records stand when
the report is made (the record keeps the latest observation), not as they stood at the month's end.
"""
from __future__ import annotations

import dataclasses
from collections import Counter, defaultdict
from typing import Iterable, Optional

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from sync.areas import area_by_code
from sync.coverage import visit_counts
from sync.forms import HOUSEHOLD_FIELDS
from sync.forms.visit import CENTRAL_WATER, TAP_WATER
from sync.models import Area, Household
from sync.records import Finding, HouseholdRecord
from sync.rules import TARGETS_DEFAULTS

#: the household fields whose "no" is a 两不愁三保障 or drinking-water problem (DOMAIN.md: 两不愁三保障, 饮水安全)
GUARANTEES = ("food_secure", "clothing_secure", "education_secure", "medical_secure", "housing_safe", "water_safe")
DANGEROUS_GRADES = ("C", "D")
BATCH = 1000


@dataclasses.dataclass(frozen=True)
class ReportRow:
    #: "village", "town" (a town's subtotal) or "total"
    kind: str
    town: str
    village: str
    values: tuple[float | int | str, ...]


@dataclasses.dataclass(frozen=True)
class ReportTable:
    title: str
    headers: tuple[str, ...]
    rows: tuple[ReportRow, ...]
    note: str = ""


@dataclasses.dataclass(frozen=True)
class MonthlyReport:
    month: str
    area_name: str
    tables: tuple[ReportTable, ...]


@dataclasses.dataclass
class _Village:
    id: int
    code: str
    name: str
    town: str
    town_code: str
    households: int = 0
    visited: int = 0
    verified: int = 0
    problems: Counter = dataclasses.field(default_factory=Counter)
    any_problem: int = 0
    grades: Counter = dataclasses.field(default_factory=Counter)
    renovation: Counter = dataclasses.field(default_factory=Counter)
    statuses: Counter = dataclasses.field(default_factory=Counter)
    #: households by the water supply their record holds (sync.forms.visit WATER_SOURCES); "" not recorded
    water: Counter = dataclasses.field(default_factory=Counter)
    flagged: int = 0
    flags: int = 0
    with_quality: int = 0
    quality: int = 0


def monthly_report(session: Session, area_ids: Optional[Iterable[int]], month: str,
                   area_code: Optional[str] = None, targets: Optional[dict[str, float]] = None) -> MonthlyReport:
    """`targets`: the rules' [targets] (RulesConfig.targets), the national figures when not given."""
    targets = {**TARGETS_DEFAULTS, **(targets or {})}
    allowed = None if area_ids is None else frozenset(area_ids)
    root = area_by_code(session, area_code, allowed) if area_code else None
    villages = _villages(session, allowed, root)
    ids = list(villages)
    for area_id, count in _grouped(session, select(Household.area_id, func.count()), Household.area_id, ids):
        villages[area_id].households = count
    for (area_id, _month), (visited, verified) in visit_counts(session, ids, [month]).items():
        villages[area_id].visited, villages[area_id].verified = visited, verified
    _records(session, villages)
    _findings(session, villages)
    ordered = sorted(villages.values(), key=lambda v: v.code)
    return MonthlyReport(month, root.name if root else "", (
        *(table(ordered) for table in (_coverage, _guarantees)), _water(ordered, targets),
        *(table(ordered) for table in (_houses, _statuses, _findings_table))))


def _villages(session: Session, allowed: Optional[frozenset[int]], root: Optional[Area]) -> dict[int, _Village]:
    town = Area.__table__.alias("town")
    statement = (select(Area.id, Area.code, Area.name, town.c.name, town.c.code)
                 .outerjoin(town, town.c.id == Area.parent_id).where(Area.level == "village"))
    if root is not None:
        statement = statement.where(Area.path.startswith(root.path, autoescape=True))
    if allowed is not None:
        statement = statement.where(Area.id.in_(sorted(allowed)))
    return {row[0]: _Village(row[0], row[1], row[2], row[3] or "", row[4] or "")
            for row in session.execute(statement)}


def _grouped(session: Session, statement, area_column, ids: list[int]):
    """A GROUP BY area over the villages, a thousand at a time (an IN list stays short)."""
    for start in range(0, len(ids), BATCH):
        yield from session.execute(statement.where(area_column.in_(ids[start:start + BATCH])).group_by(area_column))


def _records(session: Session, villages: dict[int, _Village]) -> None:
    ids = list(villages)
    for start in range(0, len(ids), BATCH):
        rows = session.execute(
            select(Household.area_id, Household.status, Household.monitoring_type, HouseholdRecord.fields)
            .outerjoin(HouseholdRecord, HouseholdRecord.household_id == Household.id)
            .where(Household.area_id.in_(ids[start:start + BATCH])).execution_options(yield_per=BATCH))
        for area_id, status, monitoring_type, fields in rows:
            village = villages[area_id]
            # a 监测户 counted by its kind where the roster gives it (脱贫不稳定户, 边缘易致贫户, 突发严重困难户)
            village.statuses[monitoring_type or status or ""] += 1
            values = {name: (entry or {}).get("value") for name, entry in (fields or {}).items()}
            failed = [name for name in GUARANTEES if values.get(name) == "no"]
            village.problems.update(failed)
            village.any_problem += bool(failed)
            village.water[values.get("water_source") or ""] += 1
            grade = values.get("housing_grade")
            if grade in DANGEROUS_GRADES:
                village.grades[grade] += 1
                village.renovation[values.get("renovation_state") or ""] += 1


def _findings(session: Session, villages: dict[int, _Village]) -> None:
    statement = select(Finding.area_id, Finding.kind, func.count(), func.count(Finding.household_id.distinct()))
    ids = list(villages)
    for start in range(0, len(ids), BATCH):
        for area_id, kind, count, households in session.execute(
                statement.where(Finding.area_id.in_(ids[start:start + BATCH])).group_by(Finding.area_id, Finding.kind)):
            village = villages[area_id]
            if kind == "monitoring":
                village.flags, village.flagged = count, households
            else:
                village.quality, village.with_quality = count, households


def _with_totals(villages: list[_Village], values) -> tuple[ReportRow, ...]:
    """A row per village, a subtotal after each town's villages, a total at the end; `values(v)` gives a
    village's counts."""
    rows: list[ReportRow] = []
    total: list = []
    by_town: dict[str, list[_Village]] = defaultdict(list)
    for village in villages:
        by_town[village.town_code].append(village)
    for town_villages in by_town.values():
        subtotal: list = []
        for village in town_villages:
            counts = list(values(village))
            rows.append(ReportRow("village", village.town, village.name, tuple(counts)))
            subtotal = [a + b for a, b in zip(subtotal, counts)] if subtotal else counts
        rows.append(ReportRow("town", town_villages[0].town, "小计", tuple(subtotal)))
        total = [a + b for a, b in zip(total, subtotal)] if total else subtotal
    if total:
        rows.append(ReportRow("total", "合计", "", tuple(total)))
    return tuple(rows)


def _coverage(villages: list[_Village]) -> ReportTable:
    rows = _with_totals(villages, lambda v: (v.households, v.verified, max(0, v.visited - v.verified),
                                             max(0, v.households - v.visited)))
    with_shares = []
    for row in rows:
        assigned, verified, questionable, _missing = row.values

        def share(n: int) -> float | str:
            return round(100 * n / assigned, 1) if assigned else "—"  # nobody to visit: no rate, not 0
        with_shares.append(dataclasses.replace(row, values=row.values + (share(verified + questionable),
                                                                         share(verified))))
    return ReportTable("走访覆盖", ("应走访户", "已走访（证据核实）", "走访存疑", "未走访", "走访率 %", "核实率 %"),
                       tuple(with_shares), "走访率 = 已走访户（含存疑）/ 应走访户；核实率 = 证据核实的户 / 应走访户。")


def _guarantees(villages: list[_Village]) -> ReportTable:
    labels = tuple(HOUSEHOLD_FIELDS[name].label("zh") + "未保障" for name in GUARANTEES)
    return ReportTable("两不愁三保障和饮水安全", labels + ("有问题的户",),
                       _with_totals(villages, lambda v: tuple(v.problems[n] for n in GUARANTEES) + (v.any_problem,)),
                       "按各户档案现在的状态统计（最新一次观察为准）。")


def _water(villages: list[_Village], targets: dict[str, float]) -> ReportTable:
    def counts(v: _Village) -> tuple[int, ...]:
        recorded = sum(n for source, n in v.water.items() if source)
        return (recorded, sum(v.water[s] for s in TAP_WATER), sum(v.water[s] for s in CENTRAL_WATER),
                v.households - recorded)
    tap_target, central_target = targets["tap_water_rate"], targets["central_water_rate"]
    rows = []
    for row in _with_totals(villages, counts):
        recorded, tap, central, _unknown = row.values
        tap_rate = round(100 * tap / recorded, 1) if recorded else "—"  # no supply recorded: no rate, not 0
        central_rate = round(100 * central / recorded, 1) if recorded else "—"
        met = "—" if not recorded else "是" if tap_rate >= tap_target and central_rate >= central_target else "否"
        rows.append(dataclasses.replace(row, values=row.values + (tap_rate, central_rate, met)))
    return ReportTable("供水方式", ("已记录供水方式的户", "自来水入户", "集中供水", "未记录", "自来水普及率 %",
                                "集中供水率 %", "达标"), tuple(rows),
                       f"自来水普及率 = 自来水入户（集中或分散）/ 已记录供水方式的户，目标 ≥ {tap_target:g}%；"
                       f"集中供水率 = 集中供水（入户或到供水点）/ 已记录供水方式的户，目标 ≥ {central_target:g}%。")


def _houses(villages: list[_Village]) -> ReportTable:
    field = HOUSEHOLD_FIELDS["renovation_state"]
    states = tuple(field.values or {})
    headers = tuple(f"{g} 级危房" for g in DANGEROUS_GRADES) + tuple(
        f"改造{field.value_label(s, 'zh')}" for s in states) + ("改造进度未填",)
    return ReportTable("危房改造", headers, _with_totals(villages, lambda v: tuple(
        v.grades[g] for g in DANGEROUS_GRADES) + tuple(v.renovation[s] for s in states) + (v.renovation[""],)))


def _statuses(villages: list[_Village]) -> ReportTable:
    statuses = sorted({s for v in villages for s in v.statuses if s})
    return ReportTable("户类型", tuple(statuses) + ("合计",), _with_totals(
        villages, lambda v: tuple(v.statuses[s] for s in statuses) + (v.households,)))


def _findings_table(villages: list[_Village]) -> ReportTable:
    return ReportTable("风险与数据质量", ("有风险标记的户", "风险标记", "有数据问题的户", "数据问题"),
                       _with_totals(villages, lambda v: (v.flagged, v.flags, v.with_quality, v.quality)))
