"""The demo's households outside the roster (应纳尽纳): three 新发现户报告 a cadre sends from a village, one left
undecided, one registered (纳入) and one declined (不纳入) by the county supervisor, so that the list, the report
page and the supervisor's home show each state. Called by sync/demo.py once the roster and the forms are in."""
from __future__ import annotations

import dataclasses
import datetime as dt
import random
import uuid

from sqlalchemy import select
from sqlalchemy.orm import Session

from forms.instances import bundled
from sync.models import Area, Household
from sync.outside_models import OutsideReport
from sync.outside_reports import _USERS, decide, find_report
from sync.values import CHINA

NAMESPACE = uuid.UUID("5b0f3c1e-7d4a-4f0e-9a51-6c2d8e1f0a77")
_WEIGHTS = (7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2)
#: (tag, head, birth date, reasons, description, per-capita income, the decision: None, register or decline)
REPORTS = (
    ("undecided", "韩桂兰", "19640312", "illness accident", "丈夫今年务工时受伤，住院两个月，家中无其他劳动力。", 3900, None),
    ("registered", "周德明", "19780905", "near_line dropout", "一般户，收入略高于监测范围；长子初二辍学在家。", 6800,
     "register"),
    ("declined", "吴春燕", "19850117", "dangerous_house", "老房墙体开裂，已搬到亲戚家居住。", 9200, "decline"),
)


def id_number(area: str, birth: str, sequence: int) -> str:
    """A valid ID number (check digit, ISO 7064) for a made-up person."""
    body = f"{area[:6]}{birth}{sequence:03d}"
    return body + "10X98765432"[sum(int(d) * w for d, w in zip(body, _WEIGHTS)) % 11]


@dataclasses.dataclass(frozen=True)
class _Decider:
    id: int
    username: str
    display_name: str
    role: str


class _AllAreas:
    """The decider's scope here: the county supervisor sees every area."""

    def filter(self, statement, _column):
        return statement

    def allows(self, _area_id):
        return True


def outside_reports(session: Session, user_ids: dict[str, int], now: dt.datetime, seed: int) -> list:
    """The three reports as the demo's uploads (sync.demo.DemoSubmission), from the cadre of the first household
    that has one, in its village."""
    household = session.scalar(select(Household).where(Household.cadre.is_not(None)).order_by(Household.number))
    if household is None or household.cadre not in user_ids:
        return []
    village = session.get(Area, household.area_id)
    from sync.demo import DemoSubmission, scene_jpeg  # the demo's own upload and photos
    items = []
    for index, (tag, head, birth, reasons, description, income, _decision) in enumerate(REPORTS, start=1):
        rng = random.Random(f"{seed}:outside:{tag}")
        iid = f"uuid:{uuid.uuid5(NAMESPACE, f'{seed}:{tag}')}"
        at = now - dt.timedelta(days=3 * index, hours=2)
        lat = round((household.latitude or 41.3) + rng.uniform(-0.004, 0.004), 6)
        lon = round((household.longitude or 123.8) + rng.uniform(-0.004, 0.004), 6)
        local = at.astimezone(CHINA)
        xml = bundled("household_report").fill({
            "start": (local - dt.timedelta(minutes=12)).isoformat(timespec="milliseconds"),
            "end": local.isoformat(timespec="milliseconds"), "today": local.date().isoformat(),
            "deviceid": f"collect:demo-{household.cadre}", "username": household.cadre,
            "report_date": local.date().isoformat(), "village_code": village.code, "village_name": village.name,
            "head_name": head, "id_number": id_number(village.code, birth, 100 + index * 7),
            "phone": f"139{rng.randint(10_000_000, 99_999_999)}", "household_size": rng.randint(2, 5),
            "reasons": reasons, "description": description, "income_per_capita": income,
            "gps": f"{lat} {lon} 60 {rng.randint(4, 12)}", "photo_house": "house.jpg",
            "meta/instanceID": iid, "meta/instanceName": f"新发现户 {head}"})
        files = {"house.jpg": scene_jpeg(rng, "house", at, (lat, lon), head)}
        items.append(DemoSubmission("household_report", "", iid, household.cadre, at, xml, files))
    return items


def decide_reports(session: Session, user_ids: dict[str, int], now: dt.datetime) -> int:
    """The county supervisor's decisions on the reports that have one in REPORTS; the count made."""
    row = session.execute(select(_USERS.c.id, _USERS.c.username, _USERS.c.display_name, _USERS.c.role)
                          .where(_USERS.c.username == "county")).first()
    if row is None:
        return 0
    decider = _Decider(*row)
    made = 0
    for _tag, head, *_rest, decision in REPORTS:
        if decision is None:
            continue
        report = session.scalar(select(OutsideReport).where(OutsideReport.head_name == head))
        if report is None:
            continue
        found = find_report(session, _AllAreas(), report.id)
        if found.decision is not None:
            continue
        decide(session, found, decider, decision, now=now,
               reason=None if decision == "register" else "经核实已在外地落户，不属本村农户。")
        made += 1
    return made
