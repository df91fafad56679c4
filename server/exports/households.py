"""The current household records (一户一档) as CSV, XLSX or GeoJSON, and the visits as GeoJSON, streamed.

A household row: who and where the household is, its cadre by name, every household field the forms set
(sync/forms: labels and value labels in Chinese, as the household file shows them), whether it meets the exit
standard, open conflicts, its monitoring flags and data-quality findings, and — with a month — that month's
visit state. The same filters as the household list (server/readmodels.py), read a batch at a time.
GeoJSON is for QGIS: coordinates [longitude, latitude], properties named as the CSV's headers.
"""
from __future__ import annotations

import dataclasses
import datetime as dt
import json
from typing import Any, Callable, Iterator

from sqlalchemy import select
from sqlalchemy.orm import Session

from server.exports.common import BATCH, VERDICTS_ZH, china_time
from server.exports.stream import CsvTable, Sink, Workbook
from server.models import User
from server.readmodels import HouseholdList, HouseholdRow, visit_conditions
from server.scope import AreaScope
from sync.forms import HOUSEHOLD_FIELDS
from sync.models import Area, Household, Submission
from sync.records import Visit

STATES_ZH = {"verified": "已走访（证据核实）", "questionable": "走访存疑", "not_visited": "未走访"}


@dataclasses.dataclass(frozen=True)
class _Column:
    name: str
    label: str
    value: Callable[[HouseholdRow], Any]
    numeric: bool = False

    @property
    def header(self) -> str:
        return f"{self.label} ({self.name})"


def _field(row: HouseholdRow, name: str) -> Any:
    entry = (row.record.fields if row.record else {}).get(name)
    value = entry.get("value") if isinstance(entry, dict) else None
    if value is None:
        return ""
    label = HOUSEHOLD_FIELDS[name].value_label(value, "zh")
    if label is not None:
        return label
    return json.dumps(value, ensure_ascii=False) if isinstance(value, (dict, list)) else value


def _exit(row: HouseholdRow) -> str:
    """是 / 否, or 无法判断 when no income was surveyed (DOMAIN.md Precisions: the exit judgement needs income)."""
    if row.record is None or row.record.exit_eligible is None:
        return "无法判断（未调查收入）"
    return "是" if row.record.exit_eligible else "否"


class HouseholdColumns:
    """The columns of a household export; towns and cadres' names are read once, not per row."""

    def __init__(self, session: Session, month: str | None):
        # the towns' names (a village's parent), whatever the caller's level
        names = dict(session.execute(select(Area.id, Area.name).where(Area.level == "town")).all())
        people = dict(session.execute(select(User.username, User.display_name)).all())

        def town(row: HouseholdRow) -> str:
            return names.get(row.area.parent_id, "")

        def cadre(row: HouseholdRow) -> str:
            return (people.get(row.household.cadre) or row.household.cadre or "") if row.household.cadre else ""

        fixed = [
            _Column("number", "户编号", lambda r: r.household.number),
            _Column("head", "户主", lambda r: r.household.head_name),
            _Column("town", "乡镇", town),
            _Column("village", "村", lambda r: r.area.name),
            _Column("village_code", "村代码", lambda r: r.area.code),
            _Column("monitoring_type", "监测户类型", lambda r: r.household.monitoring_type or ""),
            _Column("phone", "联系电话", lambda r: r.household.phone or ""),
            _Column("poverty_cause", "主要致贫原因", lambda r: r.household.poverty_cause or ""),
            _Column("cadre_name", "帮扶责任人", cadre),
            _Column("cadre", "帮扶责任人账号", lambda r: r.household.cadre or ""),
            _Column("latitude", "纬度", lambda r: r.household.latitude, numeric=True),
            _Column("longitude", "经度", lambda r: r.household.longitude, numeric=True),
            _Column("size", "家庭人口", lambda r: r.record.size if r.record else "", numeric=True),
        ]
        fields = [_Column(name, field.label("zh"), lambda r, n=name: _field(r, n),
                          numeric=name == "income_per_capita")
                  for name, field in HOUSEHOLD_FIELDS.items()]
        tail = [
            _Column("exit_eligible", "符合脱贫标准", _exit),
            _Column("open_conflicts", "待处理冲突", lambda r: r.record.open_conflicts if r.record else 0,
                    numeric=True),
            _Column("findings", "风险与问题", lambda r: "；".join(f.message_zh for f in r.findings)),
            _Column("updated_at", "档案更新时间", lambda r: china_time(r.record.updated_at) if r.record else ""),
        ]
        if month:
            tail.insert(0, _Column("month_state", f"{month} 走访状态", lambda r: STATES_ZH.get(r.state, "")))
        self.columns = fixed + fields + tail

    def headers(self) -> list[str]:
        return [c.header for c in self.columns]

    def values(self, row: HouseholdRow) -> list[Any]:
        return ["" if v is None else v for v in (c.value(row) for c in self.columns)]


def _rows(listing: HouseholdList) -> Iterator[HouseholdRow]:
    for batch in listing.batches(BATCH):
        yield from batch


def households_csv(listing: HouseholdList, columns: HouseholdColumns) -> Iterator[bytes]:
    sink = Sink()
    table = CsvTable(sink, columns.headers())
    yield sink.drain()
    for row in _rows(listing):
        table.row([str(v) for v in columns.values(row)])
        yield sink.drain()


def households_xlsx(listing: HouseholdList, columns: HouseholdColumns) -> Iterator[bytes]:
    book = Workbook()
    with book.sheet("一户一档", columns.headers(), [c.numeric for c in columns.columns]) as sheet:
        for row in _rows(listing):
            sheet.row(columns.values(row))
            yield book.drain()
    yield book.close()


def _feature_collection(features: Iterator[dict]) -> Iterator[bytes]:
    yield b'{"type":"FeatureCollection","features":['
    first = True
    for feature in features:
        yield (b"" if first else b",") + json.dumps(feature, ensure_ascii=False, separators=(",", ":")).encode()
        first = False
    yield b"]}"


def _point(longitude: float | None, latitude: float | None) -> dict | None:
    if longitude is None or latitude is None:
        return None
    return {"type": "Point", "coordinates": [longitude, latitude]}


def households_geojson(listing: HouseholdList, columns: HouseholdColumns) -> Iterator[bytes]:
    def features() -> Iterator[dict]:
        for row in _rows(listing):
            yield {"type": "Feature", "id": row.household.number,
                   "geometry": _point(row.household.longitude, row.household.latitude),
                   "properties": dict(zip(columns.headers(), columns.values(row)))}
    return _feature_collection(features())


def visits_geojson(session: Session, scope: AreaScope, area: Area | None, month: str | None,
                   start: dt.date | None, end: dt.date | None, review_state: str | None) -> Iterator[bytes]:
    """The visits (door-to-door) in the caller's areas with their GPS point, verdict and reasons."""
    conditions = visit_conditions(month, scope, None) if month else (
        [scope.condition(Visit.area_id)] if scope.area_ids is not None else [])
    if area is not None:
        conditions.append(Visit.area_id.in_(select(Area.id).where(Area.path.startswith(area.path))))
    if start is not None:
        conditions.append(Visit.visit_date >= start)
    if end is not None:
        conditions.append(Visit.visit_date <= end)
    if review_state:
        conditions.append(Submission.review_state == review_state)
    statement = (select(Visit.visit_date, Visit.latitude, Visit.longitude, Visit.accuracy, Visit.verdict,
                        Visit.reasons, Household.number, Household.head_name, Area.name, Submission.instance_id,
                        User.username, User.display_name)
                 .join(Household, Visit.household_id == Household.id)
                 .join(Area, Visit.area_id == Area.id)
                 .join(Submission, Visit.submission_id == Submission.id)
                 .outerjoin(User, Visit.submitter_id == User.id)
                 .where(*conditions).order_by(Visit.visit_date, Visit.id).execution_options(yield_per=BATCH))

    def features() -> Iterator[dict]:
        for v in session.execute(statement):
            yield {"type": "Feature", "id": v.instance_id, "geometry": _point(v.longitude, v.latitude),
                   "properties": {"走访日期 (visit_date)": v.visit_date.isoformat() if v.visit_date else None,
                                  "户编号 (household)": v.number, "户主 (head)": v.head_name, "村 (village)": v.name,
                                  "走访人 (by_name)": v.display_name or v.username, "账号 (by)": v.username,
                                  "核实结果 (verdict)": VERDICTS_ZH.get(v.verdict, v.verdict or ""),
                                  "存疑原因 (reasons)": list(v.reasons or []),
                                  "定位精度米 (accuracy)": v.accuracy,
                                  "提交编号 (instance_id)": v.instance_id}}
    return _feature_collection(features())
