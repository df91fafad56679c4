"""Visit coverage (走访覆盖, DOMAIN.md "Visit coverage"): who was visited in a month, who was missed, by area and by
cadre, compared with the months before.

A household's state for a month is the best verdict of its visits dated in that month: `verified` when at least one
visit has verified evidence (GPS at the door, photo then and there), `questionable` when it was visited but only with
questionable or no-evidence visits (or visits not judged yet), `not_visited` when no visit is dated in that month.
A visit that found nobody home (verdict `attempt`, sync/evidence.py) is not a visit: it counts nowhere, and in the
lists a household with only attempts in the month is `not_visited` with its state shown as `attempted` (DOMAIN.md
Precisions: "counts as an attempt, not a visit").

Area rows (county, town, village) count every visit to their households. A cadre row counts the households assigned
to the cadre (Household.cadre == the cadre's user name) and only the visits that cadre's account submitted: a visit by
somebody else does not do the cadre's duty. Households without a cadre count every visit (there is nobody else to
attribute them to).

The denominator of every month is today's roster (no history of assignments is kept), so the comparison with earlier
months reads "how the same households were covered then".

Everything is counted in SQL (GROUP BY area and month, or cadre and month); Python only adds up the few hundred
per-area rows into towns or counties. Every function takes the caller's area ids (None: everything) and refuses an
area outside them as not found, exactly as if it did not exist.

The per-area, per-month counts behind the area rows, totals and trends are cached (CoverageMonth, zeros included):
a city's six months are 740,000 visits to count, and a month's counts change only where a household's state in it
changes. The reconciler marks such an (area, month) stale in the transaction that rewrites the visits
(`mark_stale`; insert-only, so reconcilers never wait on each other or on a refill), and the worker counts the
stale pairs again after its reconciles (`refill_stale`). A request only reads: the cached pairs, and the stale or
uncounted ones counted from `visits` a month at a time. So a reconciled visit shows on the next request, an answer
is never older than a change committed before the request began, and no GET writes. `reconcile rebuild` empties
the cache and marks every month with visits for the worker to count.
Cadre rows and household lists are counted live: they are a village's or a town's, or one month's.
"""
from __future__ import annotations

import dataclasses
import datetime as dt
import threading
from typing import Iterable, Optional

from sqlalchemy import (Integer, String, case, column, delete, exists, func, insert, or_,
                        select, table, text)
from sqlalchemy.orm import Session
from sqlalchemy.sql import ColumnElement

from server.errors import DomainError
from sync.areas import area_by_code
from sync.evidence import ATTEMPT
from sync.id_lists import among, any_of, binds_arrays
from sync.models import Area, EntityList, Household
from sync.records import CacheFormat, CoverageMonth, CoverageStale, Visit

VERIFIED = "verified"
#: the list filters; "attempted" (only attempts in the month) is part of "not_visited"
STATES = ("verified", "questionable", "not_visited", "attempted")
#: the cadre filter that selects households without an assigned cadre
NO_CADRE = "-"
#: how many months before the month are averaged for the comparison, and how long the trend is
COMPARED_MONTHS = 3
TREND_MONTHS = 6
#: roles of the area levels in a drill-down: below a village the rows are cadres
CADRE_LEVELS = ("village", "group")

# the accounts table, without importing the server shell (domain packages may not import server.models)
_users = table("users", column("id", Integer), column("username", String), column("display_name", String))


# ---- results --------------------------------------------------------------------------------------------------

@dataclasses.dataclass(frozen=True)
class AreaRef:
    id: int
    code: str
    name: str
    level: str


@dataclasses.dataclass(frozen=True)
class Counts:
    """Households of one row in one month."""

    assigned: int = 0
    verified: int = 0
    questionable: int = 0

    @property
    def visited(self) -> int:
        return self.verified + self.questionable

    @property
    def not_visited(self) -> int:
        return self.assigned - self.visited

    def pct(self, part: int) -> Optional[float]:
        return round(100.0 * part / self.assigned, 1) if self.assigned else None

    @property
    def verified_pct(self) -> Optional[float]:
        return self.pct(self.verified)


@dataclasses.dataclass(frozen=True)
class CoverageRow:
    #: "area" (a town, village…), "cadre", or "total" (the area being looked at)
    kind: str
    #: area code, or the cadre's user name (NO_CADRE for households without one); None for a total of several areas
    key: Optional[str]
    #: area name, or the cadre's display name (their user name when they have no account)
    name: str
    #: area level for area rows and totals of one area
    level: Optional[str]
    counts: Counts
    #: average verified percentage of the compared months (None when none of them has any visit)
    previous_pct: Optional[float]

    @property
    def verified_pct(self) -> Optional[float]:
        return self.counts.verified_pct

    @property
    def change(self) -> Optional[float]:
        """Percentage points of verified coverage above (+) or below (−) the previous months' average."""
        if self.verified_pct is None or self.previous_pct is None:
            return None
        return round(self.verified_pct - self.previous_pct, 1)


@dataclasses.dataclass(frozen=True)
class TrendPoint:
    month: str
    counts: Counts


@dataclasses.dataclass(frozen=True)
class CoverageReport:
    month: str
    #: the area looked at; None when the caller's view has several top areas
    area: Optional[AreaRef]
    #: the areas above it that the caller may see, top first, ending with `area`
    breadcrumb: list[AreaRef]
    #: "area" or "cadre": what the rows are
    by: str
    total: CoverageRow
    rows: list[CoverageRow]
    #: the previous months averaged for the comparison (those with at least one visit in the area)
    compared_months: list[str]
    #: the area's coverage over the last TREND_MONTHS months, oldest first, ending with `month`
    trend: list[TrendPoint]


@dataclasses.dataclass(frozen=True)
class HouseholdState:
    number: str
    head_name: str
    cadre: Optional[str]
    cadre_name: Optional[str]
    village_code: str
    village_name: str
    #: verified, questionable, attempted (nobody home at every attempt) or not_visited in the month
    state: str
    #: the latest visit dated up to the end of the month (the cadre's own when the list is for a cadre)
    last_visit: Optional[dt.date]


@dataclasses.dataclass(frozen=True)
class CadreGroup:
    cadre: Optional[str]
    name: str
    households: list[HouseholdState]


@dataclasses.dataclass(frozen=True)
class HouseholdList:
    month: str
    area: Optional[AreaRef]
    breadcrumb: list[AreaRef]
    #: the cadre filter as given (NO_CADRE: households without a cadre); None for every cadre
    cadre: Optional[str]
    #: the state filter; None for every household
    state: Optional[str]
    #: how many households match (the page of them is `households`)
    total: int
    households: list[HouseholdState]

    def by_cadre(self) -> list[CadreGroup]:
        """The listed households grouped by their cadre, in list order (cadre, village, number)."""
        groups: list[CadreGroup] = []
        for household in self.households:
            if not groups or groups[-1].cadre != household.cadre:
                groups.append(CadreGroup(household.cadre, household.cadre_name or household.cadre or "", []))
            groups[-1].households.append(household)
        return groups


# ---- months -----------------------------------------------------------------------------------------------------

#: coverage months are China's calendar months
CHINA = dt.timezone(dt.timedelta(hours=8))


def this_month(now: Optional[dt.datetime] = None) -> str:
    return (now or dt.datetime.now(dt.timezone.utc)).astimezone(CHINA).strftime("%Y-%m")


def parse_month(month: str) -> int:
    """"YYYY-MM" → a month number (year * 12 + month - 1); an invalid DomainError for anything else."""
    try:
        day = dt.datetime.strptime(month, "%Y-%m")
    except (TypeError, ValueError):
        raise DomainError("invalid", "coverage.month", "月份格式应为 YYYY-MM。", "The month must be YYYY-MM.") from None
    if len(month) != 7:
        raise DomainError("invalid", "coverage.month", "月份格式应为 YYYY-MM。", "The month must be YYYY-MM.")
    return day.year * 12 + day.month - 1


def month_name(number: int) -> str:
    return f"{number // 12:04d}-{number % 12 + 1:02d}"


def shift_month(month: str, months: int) -> str:
    return month_name(parse_month(month) + months)


def _first_day(number: int) -> dt.date:
    return dt.date(number // 12, number % 12 + 1, 1)


# ---- the area being looked at -----------------------------------------------------------------------------------

@dataclasses.dataclass
class _View:
    area: Optional[AreaRef]
    breadcrumb: list[AreaRef]
    #: every area of the view (id → area): the one looked at and everything under it that the caller may see
    areas: dict[int, AreaRef]
    #: id of every area in the view → the id of its row (a child of the area looked at, or a top area)
    row_of: dict[int, int]
    #: the ids of every area of the view, to filter on. Always explicit, even for everything: an IN list on the
    #: leading column of the visits' (area_id, month, …) index is one short index range per area
    filter_ids: list[int]


def _ref(row) -> AreaRef:
    return AreaRef(row.id, row.code, row.name, row.level)


def _view(session: Session, area_ids: Optional[Iterable[int]], area_code: Optional[str]) -> _View:
    allowed = None if area_ids is None else frozenset(area_ids)
    columns = (Area.id, Area.code, Area.name, Area.level, Area.parent_id, Area.path)
    if area_code:
        root = area_by_code(session, area_code, allowed)
        rows = [r for r in session.execute(select(*columns).where(Area.path.startswith(root.path, autoescape=True)))
                if allowed is None or r.id in allowed]
        tops = [root.id]
    else:
        statement = select(*columns)
        if allowed is not None:
            if not allowed:
                return _View(None, [], {}, {}, [])
            statement = statement.where(among(session, Area.id, allowed))
        rows = session.execute(statement).all()
        ids = {r.id for r in rows}
        tops = [r.id for r in rows if r.parent_id not in ids]
        root = next((r for r in rows if r.id == tops[0]), None) if len(tops) == 1 else None
    areas = {r.id: _ref(r) for r in rows}
    paths = {r.id: [int(part) for part in r.path.strip("/").split("/") if part] for r in rows}
    row_of: dict[int, int] = {}
    top_set = set(tops)
    for area_id, path in paths.items():
        if root is not None:
            depth = len(paths[root.id])
            row_of[area_id] = path[depth] if len(path) > depth else root.id
        else:
            row_of[area_id] = next(a for a in path if a in top_set)
    breadcrumb: list[AreaRef] = []
    if root is not None:
        above = [int(part) for part in root.path.strip("/").split("/") if part][:-1]
        if above:
            found = {r.id: _ref(r) for r in session.execute(select(*columns).where(Area.id.in_(above)))}
            breadcrumb = [found[a] for a in above if a in found and (allowed is None or a in allowed)]
        breadcrumb.append(areas[root.id])
    return _View(areas[root.id] if root is not None else None, breadcrumb, areas, row_of, sorted(areas))


# ---- coverage ---------------------------------------------------------------------------------------------------

def coverage_for_month(session: Session, area_ids: Optional[Iterable[int]], month: str,
                       area_code: Optional[str] = None, by: Optional[str] = None) -> CoverageReport:
    """Coverage of one month for the area (default: the caller's whole view), one row per area below it — or per
    cadre for a village (by="cadre" gives cadre rows at any level) — each compared with the average of the previous
    COMPARED_MONTHS months, and the area's trend over the last TREND_MONTHS months."""
    number = parse_month(month)
    if by not in (None, "area", "cadre"):
        raise DomainError("invalid", "coverage.by", "分组方式应为 area 或 cadre。", "`by` must be area or cadre.")
    view = _view(session, area_ids, area_code)
    if by is None:
        by = "cadre" if view.area is not None and view.area.level in CADRE_LEVELS else "area"
    months = [month_name(n) for n in range(number - TREND_MONTHS + 1, number + 1)]
    compared = months[-1 - COMPARED_MONTHS:-1]

    assigned = _assigned_by_area(session, view)
    visits = _visits_by_row(session, view, months)

    total_assigned = sum(assigned.values())
    total_by_month = {m: [0, 0] for m in months}
    for (_row, m), (visited, verified) in visits.items():
        total_by_month[m][0] += visited
        total_by_month[m][1] += verified
    trend = [TrendPoint(m, _counts(total_assigned, *total_by_month[m])) for m in months]
    compared = [m for m in compared if total_by_month[m][0]]

    total = CoverageRow("total", view.area.code if view.area else None, view.area.name if view.area else "",
                        view.area.level if view.area else None, trend[-1].counts,
                        _average(total_assigned, [total_by_month[m][1] for m in compared]))
    if by == "area":
        rows = _area_rows(view, assigned, visits, month, compared)
    else:
        rows = _cadre_rows(session, view, month, compared)
    return CoverageReport(month, view.area, view.breadcrumb, by, total, rows, compared, trend)


def coverage_trend(session: Session, area_ids: Optional[Iterable[int]], month: str,
                   area_code: Optional[str] = None) -> list[TrendPoint]:
    """The area's coverage over the last TREND_MONTHS months, ending with `month` (for a chart)."""
    number = parse_month(month)
    view = _view(session, area_ids, area_code)
    months = [month_name(n) for n in range(number - TREND_MONTHS + 1, number + 1)]
    total_assigned = sum(_assigned_by_area(session, view).values())
    by_month = {m: [0, 0] for m in months}
    for (_row, m), (visited, verified) in _visits_by_row(session, view, months).items():
        by_month[m][0] += visited
        by_month[m][1] += verified
    return [TrendPoint(m, _counts(total_assigned, *by_month[m])) for m in months]


def _counts(assigned: int, visited: int, verified: int) -> Counts:
    visited = min(visited, assigned)  # a visit filed under a village its household has just left
    verified = min(verified, visited)
    return Counts(assigned, verified, visited - verified)


def _average(assigned: int, verified: list[int]) -> Optional[float]:
    if not verified or not assigned:
        return None
    return round(sum(100.0 * min(v, assigned) / assigned for v in verified) / len(verified), 1)


def _assigned_by_area(session: Session, view: _View) -> dict[int, int]:
    if not view.filter_ids:
        return {}
    counted = households_per_area(session)
    if counted is None:  # a database whose households list never had a revision (filled by hand): count them now
        statement = (select(Household.area_id, func.count()).where(among(session, Household.area_id, view.filter_ids))
                     .group_by(Household.area_id))
        counted = dict(session.execute(statement).all())
    return {area_id: counted[area_id] for area_id in view.filter_ids if area_id in counted and area_id in view.row_of}


#: households per area, by revision of the households list (sync/entity_list.py): a new random token in the
#: transaction that adds, moves or removes a household. Counting them read every household in view on each request
#: (issue 18: most of the coverage page's time at a province's size); now once per process and roster change.
_PER_AREA: dict[str, dict[int, int]] = {}
_PER_AREA_LOCK = threading.Lock()
#: revisions kept: one per database a process serves (the tests' many)
_PER_AREA_KEPT = 8


def households_per_area(session: Session) -> Optional[dict[int, int]]:
    """Area id → its households, as of the households list's revision; None when the list has no revision."""
    revision = session.scalar(select(EntityList.revision).where(EntityList.name == "households"))
    if revision is None:
        return None
    with _PER_AREA_LOCK:
        counted = _PER_AREA.get(revision)
    if counted is None:  # read after the revision: a change committed in between is in the counts, and the next
        # request, which reads its new revision, counts again
        counted = dict(session.execute(select(Household.area_id, func.count()).group_by(Household.area_id)).all())
        with _PER_AREA_LOCK:
            while len(_PER_AREA) >= _PER_AREA_KEPT:
                _PER_AREA.pop(next(iter(_PER_AREA)))
            _PER_AREA[revision] = counted
    return counted


def _visits_by_row(session: Session, view: _View, months: list[str]) -> dict[tuple[int, str], tuple[int, int]]:
    """(row id, month) → (households visited, households with a verified visit), summed over each row's areas (a
    household is counted in its own area only, so the sums are exact)."""
    if not view.filter_ids:
        return {}
    if binds_arrays(session):  # PostgreSQL: unnest the view's area → row map there
        return _row_counts_in_database(session, view, months)
    sums: dict[tuple[int, str], list[int]] = {}
    for (area_id, m), (visited, verified) in visit_counts(session, view.filter_ids, months).items():
        row = sums.setdefault((view.row_of[area_id], m), [0, 0])
        row[0] += visited
        row[1] += verified
    return {key: (visited, verified) for key, (visited, verified) in sums.items()}


#: the cached counts summed by row in the database: a province's admin sees 12,661 areas over 12 months, whose
#: 152,000 cached counts took longer to bring into Python and add up there than the rest of the page
_ROW_SUMS = text("""
    SELECT r.row_id, c.month, sum(c.visited), sum(c.verified), count(*)
    FROM coverage_months c
    JOIN unnest(CAST(:areas AS integer[]), CAST(:rows AS integer[])) AS r(area_id, row_id) ON r.area_id = c.area_id
    WHERE c.area_id = ANY(CAST(:areas AS integer[])) AND c.month = ANY(CAST(:months AS varchar[]))
      AND (c.area_id, c.month) NOT IN (SELECT * FROM unnest(CAST(:stale_areas AS integer[]),
                                                            CAST(:stale_months AS varchar[])))
    GROUP BY r.row_id, c.month""")


def _row_counts_in_database(session: Session, view: _View, months: list[str]) -> dict[tuple[int, str], tuple[int, int]]:
    """As visit_counts, summed by row in PostgreSQL: the cache's pairs summed there; the stale ones (read first, as
    visit_counts does) and any the cache lacks counted live by area and added to their rows."""
    areas = view.filter_ids
    stale = session.execute(select(CoverageStale.area_id, CoverageStale.month)
                            .where(*_pairs(session, CoverageStale, areas, months))).all()
    sums: dict[tuple[int, str], list[int]] = {}
    cached_areas = dict.fromkeys(months, 0)
    for row, month, visited, verified, counted in session.execute(_ROW_SUMS, {
            "areas": areas, "rows": [view.row_of[a] for a in areas], "months": months,
            "stale_areas": [a for a, _m in stale], "stale_months": [m for _a, m in stale]}):
        sums[(row, month)] = [visited, verified]
        cached_areas[month] += counted
    live: dict[str, set[int]] = {}
    for area_id, month in stale:
        live.setdefault(month, set()).add(area_id)
    for month in months:
        if cached_areas[month] + len(live.get(month, ())) < len(areas):  # a month the cache lacks areas of
            present = set(session.scalars(select(CoverageMonth.area_id).where(
                among(session, CoverageMonth.area_id, areas), CoverageMonth.month == month)))
            live.setdefault(month, set()).update(set(areas) - present)
    for month, area_ids in live.items():
        for area_id, _month, visited, verified in session.execute(
                visit_count_statement(sorted(area_ids), month, month, arrays=True)):
            row = sums.setdefault((view.row_of[area_id], month), [0, 0])
            row[0] += visited
            row[1] += verified
    return {key: (visited, verified) for key, (visited, verified) in sums.items()}


def _area_rows(view: _View, assigned: dict[int, int], row_visits: dict[tuple[int, str], tuple[int, int]], month: str,
               compared: list[str]) -> list[CoverageRow]:
    row_assigned: dict[int, int] = {}
    for area_id, n in assigned.items():
        row = view.row_of[area_id]
        row_assigned[row] = row_assigned.get(row, 0) + n
    row_ids = sorted(set(view.row_of.values()), key=lambda a: view.areas[a].code)
    rows = []
    for row_id in row_ids:
        area = view.areas[row_id]
        n = row_assigned.get(row_id, 0)
        if row_id == (view.area.id if view.area else None) and not n:
            continue  # the area itself only gets a row when households are registered directly in it
        counts = _counts(n, *row_visits.get((row_id, month), (0, 0)))
        previous = _average(n, [row_visits.get((row_id, m), (0, 0))[1] for m in compared])
        rows.append(CoverageRow("area", area.code, area.name, area.level, counts, previous))
    return rows


def _cadre_rows(session: Session, view: _View, month: str, compared: list[str]) -> list[CoverageRow]:
    if not view.filter_ids:
        return []
    cadre = func.coalesce(func.nullif(Household.cadre, ""), NO_CADRE)
    assigned = dict(session.execute(select(cadre, func.count())
                                    .where(among(session, Household.area_id, view.filter_ids))
                                    .group_by(cadre)).all())
    first = compared[0] if compared else month
    statement = (select(cadre, Visit.month, func.count(Visit.household_id.distinct()),
                        func.count(Visit.household_id.distinct()).filter(Visit.verdict == VERIFIED))
                 .join(Household, Household.id == Visit.household_id)
                 .outerjoin(_users, _users.c.id == Visit.submitter_id)
                 .where(Visit.month >= first, Visit.month <= month, among(session, Visit.area_id, view.filter_ids),
                        among(session, Household.area_id, view.filter_ids), _own_visit(_users.c.username),
                        counts_as_visit())
                 .group_by(cadre, Visit.month))
    visits = {(key, m): (visited, verified) for key, m, visited, verified in session.execute(statement)}
    names = _cadre_names(session, [k for k in assigned if k != NO_CADRE])
    rows = []
    for key in sorted(assigned, key=lambda k: (k == NO_CADRE, k)):
        n = assigned[key]
        counts = _counts(n, *visits.get((key, month), (0, 0)))
        previous = _average(n, [visits.get((key, m), (0, 0))[1] for m in compared])
        rows.append(CoverageRow("cadre", key, names.get(key, key) if key != NO_CADRE else "", None, counts, previous))
    return rows


def counts_as_visit() -> ColumnElement:
    """The visits rows that are visits: every one but an attempt that found nobody home (not judged yet counts)."""
    return or_(Visit.verdict.is_(None), Visit.verdict != ATTEMPT)


def _own_visit(submitter_username: ColumnElement) -> ColumnElement:
    """The visit counts for the household's cadre: submitted by the cadre's account (anyone's for no cadre)."""
    return or_(submitter_username == Household.cadre, _no_cadre())


def _no_cadre() -> ColumnElement:
    return or_(Household.cadre.is_(None), Household.cadre == "")


def _cadre_names(session: Session, usernames: list[str]) -> dict[str, str]:
    if not usernames:
        return {}
    statement = select(_users.c.username, _users.c.display_name).where(_users.c.username.in_(usernames))
    return {username: display or username for username, display in session.execute(statement)}


# ---- the cache of per-area, per-month counts --------------------------------------------------------------------

#: PostgreSQL advisory lock held by the transaction that fills the cache (any constant no other code uses)
_FILL_LOCK = 0x5A4F_5546_434F_5645


def visit_counts(session: Session, area_ids: list[int], months: list[str]) -> dict[tuple[int, str], tuple[int, int]]:
    """(area id, month) → (households visited, households with a verified visit) for every area and month given:
    from the cache, and counted from `visits` for the pairs it lacks or holds stale. Reads only: the worker refills
    the cache (`refill_stale`), so a request never writes, let alone commits."""
    if not area_ids or not months:
        return {}
    # the stale marks before the counts: a refill committing in between can only make the counts read newer
    stale = set(session.execute(select(CoverageStale.area_id, CoverageStale.month)
                                .where(*_pairs(session, CoverageStale, area_ids, months))).all())
    cached = {pair: c for pair, c in _cached(session, area_ids, months).items() if pair not in stale}
    counts = dict(cached)
    for month in months:
        # a month at a time: between two worker rounds a few villages of this month are stale, not whole months
        uncounted = [a for a in area_ids if (a, month) not in cached]
        if uncounted:
            counted = {(a, m): (visited, verified) for a, m, visited, verified
                       in session.execute(visit_count_statement(uncounted, month, month, binds_arrays(session)))}
            counts.update({(a, month): counted.get((a, month), (0, 0)) for a in uncounted})
    return counts


def visit_count_statement(area_ids: list[int], first: str, last: str, arrays: bool = False):
    """The count behind the cache, straight from `visits`: one GROUP BY area and month over the months first..last
    (pairs with a visit only). A range, not a list of months: with a range both columns bound each area's index
    scan, a list PostgreSQL only filters on. Both counts are DISTINCT over the same column, so that PostgreSQL 16+
    can feed them from the index ordered by (area_id, month, household_id) without sorting each group. `arrays`:
    the area ids as one array parameter (PostgreSQL; a province's 12,000 ids bound one by one took seconds)."""
    return (select(Visit.area_id, Visit.month, func.count(Visit.household_id.distinct()),
                   func.count(Visit.household_id.distinct()).filter(Visit.verdict == VERIFIED))
            .where(any_of(Visit.area_id, area_ids, arrays), Visit.month >= first, Visit.month <= last,
                   counts_as_visit())
            .group_by(Visit.area_id, Visit.month))


def mark_stale(session: Session, before: Iterable[tuple], after: Iterable[tuple]) -> None:
    """For the reconciler, in the transaction that rewrites a batch of households' visits: given their visits
    before and after as (area id, month, household id, verdict), mark stale the (area, month) pairs whose counts
    may change. Only a household whose state in a month changes counts: a second visit in a month, or a re-judged
    visit that keeps the household's best verdict, marks nothing."""
    changed = {(area_id, month) for (area_id, month, _household), _verified in _states(before) ^ _states(after)
               if month is not None}
    if changed:
        session.execute(insert(CoverageStale), [{"area_id": a, "month": m} for a, m in sorted(changed)])


def clear_cache(session: Session) -> None:
    """Forget every cached count and mark: requests count from `visits` until the worker has counted again what
    `mark_uncounted` marks."""
    _lock_fills(session)
    session.execute(delete(CoverageStale).execution_options(synchronize_session=False))
    session.execute(delete(CoverageMonth).execution_options(synchronize_session=False))


#: how the cache is kept: raise it when a change makes the kept counts wrong (what is counted, or how), and the
#: first worker to start empties the cache and has every month counted again
CACHE_FORMAT = "1"


def count_uncounted_once(session: Session) -> bool:
    """For a starting worker: when the cache was kept another way than CACHE_FORMAT says (or by a version that did
    not say), empty it if it was kept another way and mark every (area, month) with a visit, once; True when it
    did. Otherwise nothing is read: the reconciler marks the months it changes, and a rebuild its chunks' months,
    so a start has nothing to find (issue 18: at a province's size, reading every visit took minutes)."""
    _lock_fills(session)
    kept = session.get(CacheFormat, CoverageMonth.__tablename__)
    if kept is not None and kept.format == CACHE_FORMAT:
        return False
    if kept is None:
        session.add(CacheFormat(name=CoverageMonth.__tablename__, format=CACHE_FORMAT))
    else:
        clear_cache(session)
        kept.format = CACHE_FORMAT
    mark_uncounted(session)
    return True


def mark_uncounted(session: Session) -> None:
    """Mark stale every (area, month) with a visit that the cache has no count of, so that the worker counts them:
    one read of every visit, done once after a change of CACHE_FORMAT (count_uncounted_once)."""
    uncounted = (select(Visit.area_id, Visit.month).distinct()
                 .where(Visit.month.is_not(None),
                        ~exists().where(CoverageMonth.area_id == Visit.area_id, CoverageMonth.month == Visit.month)))
    session.execute(insert(CoverageStale).from_select(["area_id", "month"], uncounted))


def refill_stale(session: Session) -> int:
    """For the worker: count again the stale (area, month) pairs, and every area the cache lacks in their months
    (so a month is complete after its first refill and requests read it without counting); flushes, the caller
    commits. Refills run one at a time and take the stale marks away BEFORE counting, so every mark taken was
    committed with its visits before the count that replaces it read them; a mark committed later stays for the
    next refill. Returns how many marks it took."""
    _lock_fills(session)
    taken = session.execute(delete(CoverageStale).returning(CoverageStale.area_id, CoverageStale.month)
                            .execution_options(synchronize_session=False)).all()
    if not taken:
        return 0
    months: dict[str, set[int]] = {}
    for area_id, month in taken:
        months.setdefault(month, set()).add(area_id)
    every_area = set(session.scalars(select(Area.id)))
    for month, marked in sorted(months.items()):
        counted = set(session.scalars(select(CoverageMonth.area_id).where(CoverageMonth.month == month)))
        areas = sorted(marked | (every_area - counted))
        session.execute(delete(CoverageMonth).where(among(session, CoverageMonth.area_id, areas),
                                                    CoverageMonth.month == month)
                        .execution_options(synchronize_session=False))
        _insert_counts(session, areas, month)
    return len(taken)


def _states(visits: Iterable[tuple]) -> set[tuple[tuple[int, str, int], bool]]:
    """((area id, month, household id), has a verified visit) for every household-month with a visit (attempts are
    none)."""
    best: dict[tuple[int, str, int], bool] = {}
    for area_id, month, household_id, verdict in visits:
        if verdict == ATTEMPT:
            continue
        key = (area_id, month, household_id)
        best[key] = best.get(key, False) or verdict == VERIFIED
    return set(best.items())


def _pairs(session: Session, model, area_ids: list[int], months: list[str]) -> tuple[ColumnElement, ...]:
    return among(session, model.area_id, area_ids), model.month.in_(months)


def _cached(session: Session, area_ids: list[int], months: list[str]) -> dict[tuple[int, str], tuple[int, int]]:
    statement = (select(CoverageMonth.area_id, CoverageMonth.month, CoverageMonth.visited, CoverageMonth.verified)
                 .where(*_pairs(session, CoverageMonth, area_ids, months)))
    return {(a, m): (visited, verified) for a, m, visited, verified in session.execute(statement)}


def _insert_counts(session: Session, area_ids: list[int], month: str) -> None:
    """Count the areas' month into the cache, in the database (a city's thousands of rows never travel), zeros for
    the areas without a visit."""
    columns = ("area_id", "month", "visited", "verified")
    table = CoverageMonth.__table__
    counted = session.execute(table.insert().from_select(columns, visit_count_statement(area_ids, month, month,
                                                                                         binds_arrays(session)))
                              .returning(table.c.area_id)).scalars().all()
    zeros = [{"area_id": a, "month": month, "visited": 0, "verified": 0} for a in sorted(set(area_ids) - set(counted))]
    if zeros:
        session.execute(table.insert(), zeros)


def _lock_fills(session: Session) -> None:
    """One refill at a time, so that an older count never overwrites a newer one. Reconcilers never take this lock.
    (SQLite needs nothing: a transaction holds the one write lock from its first write on.)"""
    if session.get_bind().dialect.name == "postgresql":
        session.execute(select(func.pg_advisory_xact_lock(_FILL_LOCK)))


# ---- the households behind a number -----------------------------------------------------------------------------

def coverage_households(session: Session, area_ids: Optional[Iterable[int]], month: str,
                        area_code: Optional[str] = None, cadre: Optional[str] = None, state: Optional[str] = None,
                        limit: Optional[int] = None, offset: int = 0) -> HouseholdList:
    """The households behind a coverage number: those of the area (and of one cadre), optionally only those in one
    state, ordered by cadre, village and number. With a cadre, only that cadre's own visits count (as in the cadre
    rows); otherwise every visit does."""
    number = parse_month(month)
    if state is not None and state not in STATES:
        raise DomainError("invalid", "coverage.state", "状态应为 verified、questionable、not_visited 或 attempted。",
                          "`state` must be verified, questionable, not_visited or attempted.")
    view = _view(session, area_ids, area_code)
    if not view.filter_ids:
        return HouseholdList(month, view.area, view.breadcrumb, cadre, state, 0, [])

    # each household's best verdict of the month: one pass over the month's visits, grouped by household
    best = (select(Visit.household_id, func.max(case((Visit.verdict == VERIFIED, 1), else_=0)).label("verified"),
                   func.max(case((counts_as_visit(), 1), else_=0)).label("met"))
            .where(Visit.month == month, among(session, Visit.area_id, view.filter_ids)).group_by(Visit.household_id))
    conditions = [among(session, Household.area_id, view.filter_ids)]
    own = cadre if cadre and cadre != NO_CADRE else None
    if cadre == NO_CADRE:
        conditions.append(_no_cadre())
    elif own:
        conditions.append(Household.cadre == own)
        best = best.where(Visit.submitter_id.in_(select(_users.c.id).where(_users.c.username == own)))
    best = best.subquery("best")
    if state == "verified":
        conditions.append(best.c.verified == 1)
    elif state == "questionable":
        conditions.append(best.c.verified == 0)
        conditions.append(best.c.met == 1)
    elif state == "not_visited":
        conditions.append(or_(best.c.household_id.is_(None), best.c.met == 0))
    elif state == "attempted":
        conditions.append(best.c.met == 0)

    def joined(statement):
        return statement.outerjoin(best, best.c.household_id == Household.id).where(*conditions)

    statement = (joined(select(Household.id, Household.number, Household.head_name, Household.cadre, Area.code,
                               Area.name, _users.c.display_name, best.c.household_id.label("visited"),
                               best.c.verified, best.c.met, func.count().over().label("total"))
                        .select_from(Household).join(Area, Area.id == Household.area_id)
                        .outerjoin(_users, _users.c.username == Household.cadre))
                 .order_by(case((_no_cadre(), 1), else_=0), Household.cadre, Area.code, Household.number)
                 .offset(offset))
    if limit is not None:
        statement = statement.limit(limit)
    rows = session.execute(statement).all()
    # the total comes with the rows (one pass); only a page past the end needs counting on its own
    total = rows[0].total if rows else session.scalar(joined(select(func.count()).select_from(Household)))
    last = _last_visits(session, [r.id for r in rows], _first_day(number + 1), own)
    households = [HouseholdState(
        number=r.number, head_name=r.head_name, cadre=r.cadre or None,
        cadre_name=(r.display_name or r.cadre) if r.cadre else None, village_code=r.code, village_name=r.name,
        state=(VERIFIED if r.verified else "not_visited" if r.visited is None
               else "questionable" if r.met else "attempted"),
        last_visit=last.get(r.id)) for r in rows]
    return HouseholdList(month, view.area, view.breadcrumb, cadre, state, total, households)


def not_visited(session: Session, area_ids: Optional[Iterable[int]], month: str, area_code: Optional[str] = None,
                cadre: Optional[str] = None, limit: Optional[int] = None, offset: int = 0) -> HouseholdList:
    """The households nobody visited in the month (with a cadre: that the cadre did not visit), for a supervisor
    to call the cadres about; `.by_cadre()` groups them."""
    return coverage_households(session, area_ids, month, area_code, cadre, "not_visited", limit, offset)


def _last_visits(session: Session, household_ids: list[int], before: dt.date,
                 cadre: Optional[str]) -> dict[int, dt.date]:
    out: dict[int, dt.date] = {}
    for start in range(0, len(household_ids), 2000):
        chunk = household_ids[start:start + 2000]
        statement = (select(Visit.household_id, func.max(Visit.visit_date))
                     .where(Visit.household_id.in_(chunk), Visit.visit_date < before, counts_as_visit())
                     .group_by(Visit.household_id))
        if cadre:
            statement = statement.where(
                Visit.submitter_id.in_(select(_users.c.id).where(_users.c.username == cadre)))
        out.update(session.execute(statement).all())
    return out
