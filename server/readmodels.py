"""Read models that the API, the pages and exports share (no HTTP here: the handlers that answer with them
live in server/api and server/pages).

The household list: the caller's households filtered by area, status, flag, cadre, text, location and the month's
visit state, counted and paged, with their findings (GET /api/v1/households and the households page).

The month visit state and the map: a month's households coloured by their visit state and the month's visit
points, as GeoJSON (GET /api/v1/map answers with it, the map page embeds it).

A household's state for a month: "verified" when at least one of the month's visits has verified evidence,
"questionable" when it was visited but no visit is verified (questionable, no evidence or not judged yet),
"not_visited" otherwise — as the coverage page counts (sync/coverage.py). Filtered by a cadre, the map shows the
households assigned to the cadre and only the visits that cadre's account submitted (a visit by somebody else
does not do the cadre's duty), again as coverage counts a cadre's row; "-" selects households without a cadre.
Households without a known location are counted and listed (a Feature with a null geometry) but cannot be
drawn. Two queries do the work: the households with their month state (visits aggregated in a
subquery), and the month's visits of the same households. The map page embeds the same document.
"""
from __future__ import annotations

import dataclasses
import math
from typing import Any, Iterator
from urllib.parse import quote

from flask import url_for
from sqlalchemy import and_, case, func, or_, select
from sqlalchemy.orm import Session, aliased

from server.models import User
from server.scope import AreaScope
from sync.areas import area_by_code
from sync.coverage import counts_as_visit
from sync.forms import VISIT_FORM
from sync.models import Area, Household, Submission
from sync.records import Finding, HouseholdRecord, Visit
from sync.rules import SCREENING_CODES

STATES = ("verified", "questionable", "not_visited")
#: colours the page and the GeoJSON use: green, orange, red
COLORS = {"verified": "#2e7d32", "questionable": "#ef6c00", "not_visited": "#c62828"}
VERDICT_COLORS = {"verified": COLORS["verified"], "questionable": COLORS["questionable"],
                  "no_evidence": COLORS["questionable"], None: COLORS["questionable"]}
#: beyond this many households the map is cut (pick a town or village); counts stay exact
MAX_HOUSEHOLDS = 20000
#: the cadre filter value for households without an assigned cadre
NO_CADRE = "-"


def visit_conditions(month: str, scope: AreaScope, cadre: str | None) -> list:
    """The month's visits that count: in the caller's areas, and the cadre's own when filtered by a cadre; an
    attempt that found nobody home is none (sync/coverage.py)."""
    conditions = [Visit.month == month, counts_as_visit()]
    if scope.area_ids is not None:
        conditions.append(scope.condition(Visit.area_id))
    if cadre and cadre != NO_CADRE:
        conditions.append(Visit.submitter_id.in_(select(User.id).where(User.username == cadre)))
    return conditions


def month_state(month: str, scope: AreaScope, cadre: str | None = None):
    """(subquery of the month's visits per household, the state expression over an outer join with it)."""
    visits = select(Visit.household_id.label("household_id"),
                    func.max(case((Visit.verdict == "verified", 1), else_=0)).label("verified"),
                    func.count(Visit.id).label("visits")).where(*visit_conditions(month, scope, cadre))
    visits = visits.group_by(Visit.household_id).subquery("month_visits")
    state = case((visits.c.verified == 1, "verified"), (visits.c.visits > 0, "questionable"),
                 else_="not_visited")
    return visits, state


def household_month_state(session: Session, scope: AreaScope, household_id: int, month: str) -> str:
    """One household's visit state in the month, as the list, the map and coverage count it."""
    visits, state = month_state(month, scope)
    return session.scalar(select(state).select_from(Household)
                          .outerjoin(visits, visits.c.household_id == Household.id)
                          .where(Household.id == household_id))


def resolve_area(session: Session, scope: AreaScope, code: str | None) -> Area | None:
    """The area a filter names; one outside the caller's areas is 404, exactly as if it did not exist."""
    return area_by_code(session, code, scope.area_ids) if code else None


def household_conditions(scope: AreaScope, area: Area | None, cadre: str | None) -> list:
    conditions = []
    if scope.area_ids is not None:
        conditions.append(scope.condition(Household.area_id))
    if area is not None:
        conditions.append(Household.area_id.in_(select(Area.id).where(Area.path.startswith(area.path))))
    if cadre == NO_CADRE:
        conditions.append(Household.cadre.is_(None))
    elif cadre:
        conditions.append(Household.cadre == cadre)
    return conditions


@dataclasses.dataclass(frozen=True)
class HouseholdFilters:
    #: the area (resolved within the caller's areas) whose households, and those below it, are listed
    area: Area | None = None
    status: str | None = None
    #: the kind of 监测户 (sync.rules.MONITORING_TYPES)
    monitoring_type: str | None = None
    #: only the households on the 排查 list (seed 002: income or 低保金 under the configured figures)
    screening: bool = False
    #: a monitoring flag or data-quality finding code the household has
    flag: str | None = None
    #: the paired cadre's user name, or NO_CADRE
    cadre: str | None = None
    #: the start of a household number, or part of the head's name
    text: str | None = None
    #: "missing": households without a known location
    location: str | None = None
    #: with `month`, the month's visit state (STATES)
    state: str | None = None
    month: str | None = None


@dataclasses.dataclass(frozen=True)
class HouseholdRow:
    household: Household
    area: Area
    record: HouseholdRecord | None
    #: the month's visit state, when the list was asked for a month
    state: str | None
    findings: list[Finding]


class HouseholdList:
    """The caller's households that match the filters: counted, and read a page at a time in number order."""

    def __init__(self, session: Session, scope: AreaScope, filters: HouseholdFilters):
        self.session = session
        self.filters = filters
        conditions = household_conditions(scope, filters.area, filters.cadre)
        if filters.text:
            conditions.append(or_(Household.number.startswith(filters.text, autoescape=True),
                                  Household.head_name.contains(filters.text, autoescape=True)))
        if filters.status:
            conditions.append(Household.status == filters.status)
        if filters.monitoring_type:
            conditions.append(Household.monitoring_type == filters.monitoring_type)
        if filters.flag:
            conditions.append(Household.id.in_(select(Finding.household_id).where(Finding.code == filters.flag)))
        if filters.screening:
            conditions.append(Household.id.in_(select(Finding.household_id)
                                               .where(Finding.code.in_(SCREENING_CODES))))
        if filters.location == "missing":
            conditions.append(or_(Household.latitude.is_(None), Household.longitude.is_(None)))
        statement = (select(Household, Area, HouseholdRecord).join(Area, Household.area_id == Area.id)
                     .outerjoin(HouseholdRecord, HouseholdRecord.household_id == Household.id))
        if filters.month:
            visits, state_expr = month_state(filters.month, scope, filters.cadre)
            statement = statement.add_columns(state_expr.label("state")).outerjoin(
                visits, visits.c.household_id == Household.id)
            if filters.state:
                conditions.append(state_expr == filters.state)
        self.statement = statement.where(*conditions)

    def count(self) -> int:
        return self.session.scalar(select(func.count()).select_from(self.statement.subquery()))

    def rows(self, limit: int, offset: int) -> list[HouseholdRow]:
        return self._rows(self.statement.order_by(Household.number).limit(limit).offset(offset))

    def batches(self, size: int) -> Iterator[list[HouseholdRow]]:
        """Every matching row in number order, `size` at a time: each batch starts after the last number seen
        (an index range, where an offset would rescan what came before), so an export of a province is as quick
        per row as one of a village and holds one batch in memory."""
        statement = self.statement.order_by(Household.number).limit(size)
        batch = self._rows(statement)
        while batch:
            yield batch
            batch = self._rows(statement.where(Household.number > batch[-1].household.number))

    def _rows(self, statement) -> list[HouseholdRow]:
        rows = self.session.execute(statement).all()
        findings = household_findings(self.session, [row[0].id for row in rows])
        return [HouseholdRow(row[0], row[1], row[2], row[3] if self.filters.month else None,
                             findings.get(row[0].id, [])) for row in rows]


def household_findings(session: Session, household_ids: list[int]) -> dict[int, list[Finding]]:
    """The households' monitoring flags and data-quality findings, in the order they were found."""
    out: dict[int, list[Finding]] = {}
    if household_ids:
        for finding in session.scalars(select(Finding).where(Finding.household_id.in_(household_ids))
                                       .order_by(Finding.id)):
            out.setdefault(finding.household_id, []).append(finding)
    return out


def metres(a: tuple[float, float], b: tuple[float, float]) -> float:
    """Distance on the WGS-84 ellipsoid by Lambert's formula: within a few centimetres of the geodesic (what the
    evidence check uses, sync.evidence.metres) over the distances a village spans, and ~100 times faster, which
    matters for a county's month of visits."""
    if a == b:
        return 0.0
    b1 = math.atan((1 - _F) * math.tan(math.radians(a[0])))
    b2 = math.atan((1 - _F) * math.tan(math.radians(b[0])))
    h = (math.sin((b2 - b1) / 2) ** 2
         + math.cos(b1) * math.cos(b2) * math.sin(math.radians(b[1] - a[1]) / 2) ** 2)
    sigma = 2 * math.asin(min(1.0, math.sqrt(h)))
    if sigma == 0:
        return 0.0
    p, q = (b1 + b2) / 2, (b2 - b1) / 2
    x = (sigma - math.sin(sigma)) * math.sin(p) ** 2 * math.cos(q) ** 2 / math.cos(sigma / 2) ** 2
    y = (sigma + math.sin(sigma)) * math.cos(p) ** 2 * math.sin(q) ** 2 / math.sin(sigma / 2) ** 2
    return _A * (sigma - _F / 2 * (x + y))


_A, _F = 6378137.0, 1 / 298.257223563


def map_geojson(session: Session, scope: AreaScope, month: str, area_code: str | None = None,
                cadre: str | None = None, state: str | None = None,
                limit: int = MAX_HOUSEHOLDS) -> dict[str, Any]:
    area = resolve_area(session, scope, area_code)
    conditions = household_conditions(scope, area, cadre)
    visits, state_expr = month_state(month, scope, cadre)
    cadres = aliased(User)
    statement = (select(Household.id, Household.number, Household.head_name, Household.latitude,
                        Household.longitude, Household.status, Household.cadre,
                        cadres.display_name.label("cadre_name"), Area.code, Area.name, state_expr.label("state"),
                        func.coalesce(visits.c.visits, 0).label("visits"))
                 .join(Area, Household.area_id == Area.id)
                 .outerjoin(visits, visits.c.household_id == Household.id)
                 .outerjoin(cadres, cadres.username == Household.cadre)
                 .where(*conditions))
    if state:
        statement = statement.where(state_expr == state)
    rows = session.execute(statement.order_by(Household.number).limit(limit + 1)).all()
    truncated = len(rows) > limit
    rows = rows[:limit]

    # url_for per feature is a third of the time for a county: build from one template instead
    file_url = url_for("households.file_page", number="NUMBER")
    submission_url = url_for("households.submission_page", number="NUMBER", form_id=VISIT_FORM,
                             instance_id="INSTANCE")
    features: list[dict[str, Any]] = []
    located: dict[int, tuple[str, tuple[float, float]]] = {}
    summary = {"households": 0, **{s: 0 for s in STATES}, "no_location": 0, "listed": len(rows), "shown": 0,
               "visits": 0, "visits_without_gps": 0}
    for row in rows:
        has_location = row.latitude is not None and row.longitude is not None
        if has_location:
            located[row.id] = (row.number, (row.latitude, row.longitude))
            summary["shown"] += 1
        else:
            summary["no_location"] += 1
        summary["households"] += 1
        summary[row.state] += 1
        features.append({
            "type": "Feature", "id": f"household/{row.number}",
            "geometry": {"type": "Point", "coordinates": [row.longitude, row.latitude]}
            if has_location else None,
            "properties": {"kind": "household", "number": row.number, "head": row.head_name,
                           "village": row.name, "village_code": row.code, "status": row.status,
                           "cadre": row.cadre, "cadre_name": row.cadre_name or row.cadre,
                           "state": row.state, "color": COLORS[row.state],
                           "visits": row.visits, "url": file_url.replace("NUMBER", _path(row.number))}})
    if truncated:
        summary.update(_counts(session, conditions, visits, state_expr, state))

    shown = {row.id: row.number for row in rows}
    visit_rows = session.execute(
        select(Visit.id, Visit.household_id, Visit.latitude, Visit.longitude, Visit.accuracy, Visit.verdict,
               Visit.reasons, Visit.visit_date, Submission.instance_id, User.username, User.display_name)
        .join(Household, Visit.household_id == Household.id)
        .join(Submission, Visit.submission_id == Submission.id)
        .outerjoin(User, Visit.submitter_id == User.id)
        .where(*visit_conditions(month, scope, cadre), *conditions)
        .order_by(Visit.visit_date, Visit.id)).all()
    for visit in visit_rows:
        number = shown.get(visit.household_id)
        if number is None:  # filtered out by state, or beyond the cut
            continue
        summary["visits"] += 1
        if visit.latitude is None or visit.longitude is None:
            summary["visits_without_gps"] += 1
            continue
        point = (visit.latitude, visit.longitude)
        home = located.get(visit.household_id)
        distance = round(metres(point, home[1])) if home else None
        features.append({
            "type": "Feature", "id": f"visit/{visit.id}",
            "geometry": {"type": "Point", "coordinates": [visit.longitude, visit.latitude]},
            "properties": {"kind": "visit", "household": number, "verdict": visit.verdict,
                           "color": VERDICT_COLORS.get(visit.verdict, COLORS["questionable"]),
                           "date": visit.visit_date.isoformat() if visit.visit_date else None,
                           "by": visit.username, "by_name": visit.display_name or visit.username,
                           "reasons": list(visit.reasons or []),
                           "accuracy": visit.accuracy, "distance_m": distance,
                           "instance_id": visit.instance_id,
                           "url": submission_url.replace("NUMBER", _path(number))
                           .replace("INSTANCE", _path(visit.instance_id))}})
        if visit.verdict != "verified" and home is not None:
            features.append({
                "type": "Feature", "id": f"link/{visit.id}",
                "geometry": {"type": "LineString", "coordinates": [
                    [visit.longitude, visit.latitude],
                    [home[1][1], home[1][0]]]},
                "properties": {"kind": "link", "household": number, "visit": f"visit/{visit.id}",
                               "color": COLORS["questionable"], "distance_m": distance}})
    return {"type": "FeatureCollection", "month": month,
            "filters": {"area": area.code if area else None, "cadre": cadre or None, "state": state or None},
            "colors": COLORS, "summary": summary, "truncated": truncated, "features": features}


def _path(value: str) -> str:
    """A URL path segment, as url_for would quote it (most household numbers need nothing)."""
    return value if value.isalnum() else quote(value, safe=":@")


def _counts(session: Session, conditions: list, visits, state_expr, state: str | None) -> dict[str, int]:
    """Exact counts when the map was cut: one grouped query."""
    statement = (select(state_expr.label("state"), func.count(Household.id),
                        func.sum(case((and_(Household.latitude.is_not(None), Household.longitude.is_not(None)), 0),
                                      else_=1)))
                 .outerjoin(visits, visits.c.household_id == Household.id).where(*conditions)
                 .group_by(state_expr))
    if state:
        statement = statement.where(state_expr == state)
    counts = {s: 0 for s in STATES} | {"households": 0, "no_location": 0}
    for name, number, unlocated in session.execute(statement):
        counts[name] = number
        counts["households"] += number
        counts["no_location"] += unlocated or 0
    return counts
