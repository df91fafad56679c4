"""What the two home pages count (issue 15): a cadre's own households with this month's visit state and each one's
last visit (手机上的今日工作), and a supervisor's month at a glance over their areas (工作台).

A cadre's households are those paired to the cadre (Household.cadre == the cadre's user name), within the cadre's
areas — not the whole village. A household counts as visited this month as the coverage pages count a cadre's
row (sync/coverage.py): only visits the cadre's own account submitted, dated this month, filed under the caller's
areas; an attempt that found nobody home (走访未遇) is no visit. So the number "not visited" on the cadre's home
is the total of the coverage list /coverage/not-visited?cadre=<the cadre>.

Each number of the supervisor's home is counted with the same conditions as the list it opens: the coverage
report's (sync.coverage), the review lists' (sync.review) and the household list's (server.readmodels): a
finding's household counts where the household is filed, as the household list filters.
"""
from __future__ import annotations

import dataclasses
import datetime as dt
from typing import Iterable, Optional

from sqlalchemy import Integer, String, case, column, distinct, func, select, table
from sqlalchemy.orm import Session

from sync.coverage import CoverageReport, CoverageRow, counts_as_visit, coverage_for_month
from sync.id_lists import among
from sync.models import Area, Household
from sync.records import Finding, Visit, questionable_visit
from sync.review import Scope, open_conflicts
from sync.rules import MONITORING_TYPES, RENOVATION_STATES, SCREENING_CODES

#: a cadre's month states, in the order the home lists them: who still needs a visit first
NEEDS_VISIT = ("not_visited", "attempted")
STATE_ORDER = {"not_visited": 0, "attempted": 0, "questionable": 1, "verified": 2}
#: the finding that keeps a C/D house on the list until its renovation is finished (sync.rules.dangerous_house)
DANGEROUS_HOUSE = "dangerous_house"

# the accounts table, without importing the server shell (domain packages may not import server.models)
_users = table("users", column("id", Integer), column("username", String), column("display_name", String))


# ---- a cadre's households ---------------------------------------------------------------------------------------

@dataclasses.dataclass(frozen=True)
class LastVisit:
    date: dt.date
    #: verified, questionable, no_evidence, attempt (nobody home) or None (not judged yet)
    verdict: Optional[str]
    #: who made it: None when it was the cadre, else their display name
    by: Optional[str]


@dataclasses.dataclass(frozen=True)
class MyHousehold:
    number: str
    head_name: str
    village_name: str
    #: this month, by the cadre's own visits: not_visited, attempted, questionable or verified
    state: str
    #: the household's latest visit by anybody (an attempt included), or None
    last: Optional[LastVisit]

    @property
    def needs_visit(self) -> bool:
        return self.state in NEEDS_VISIT


@dataclasses.dataclass(frozen=True)
class CadreWork:
    month: str
    #: households paired to the cadre in the cadre's areas
    total: int
    #: of them, not visited by the cadre this month (attempts only, or nothing)
    to_visit: int
    #: the households the search matched (all of them without a search), who needs a visit first
    households: list[MyHousehold]


def cadre_work(session: Session, area_ids: Optional[Iterable[int]], user_id: int, username: str, month: str,
               text: Optional[str] = None) -> CadreWork:
    """The cadre's households with this month's state and their last visit, who needs a visit first (then the
    longest since the last visit); `text` keeps those whose number starts with it or whose head's name holds it."""
    allowed = None if area_ids is None else sorted(area_ids)
    mine = [Household.cadre == username]
    own = [Visit.month == month, Visit.submitter_id == user_id]
    if allowed is not None:
        mine.append(among(session, Household.area_id, allowed))
        own.append(among(session, Visit.area_id, allowed))
    month_visits = (select(Visit.household_id,
                           func.max(case((Visit.verdict == "verified", 1), else_=0)).label("verified"),
                           func.max(case((counts_as_visit(), 1), else_=0)).label("met"))
                    .where(*own).group_by(Visit.household_id).subquery("own_visits"))
    rows = session.execute(
        select(Household.id, Household.number, Household.head_name, Area.name.label("village"),
               month_visits.c.household_id.label("visited"), month_visits.c.verified, month_visits.c.met)
        .join(Area, Area.id == Household.area_id)
        .outerjoin(month_visits, month_visits.c.household_id == Household.id)
        .where(*mine)).all()
    last = _last_visits(session, select(Household.id).where(*mine), user_id)
    households = [MyHousehold(r.number, r.head_name, r.village,
                              "not_visited" if r.visited is None else "verified" if r.verified
                              else "questionable" if r.met else "attempted", last.get(r.id)) for r in rows]
    to_visit = sum(h.needs_visit for h in households)
    if text:
        households = [h for h in households if h.number.startswith(text) or text in h.head_name]
    households.sort(key=lambda h: (STATE_ORDER[h.state], h.last.date if h.last else dt.date.min, h.number))
    return CadreWork(month, len(rows), to_visit, households)


def _last_visits(session: Session, household_ids, user_id: int) -> dict[int, LastVisit]:
    """Each household's latest dated visit (ties: the later recorded), by anybody, attempts included."""
    ranked = (select(Visit.household_id, Visit.visit_date, Visit.verdict, Visit.submitter_id,
                     func.row_number().over(partition_by=Visit.household_id,
                                            order_by=(Visit.visit_date.desc(), Visit.id.desc())).label("rank"))
              .where(Visit.household_id.in_(household_ids), Visit.visit_date.is_not(None)).subquery("ranked"))
    rows = session.execute(select(ranked.c.household_id, ranked.c.visit_date, ranked.c.verdict,
                                  ranked.c.submitter_id, _users.c.username, _users.c.display_name)
                           .outerjoin(_users, _users.c.id == ranked.c.submitter_id)
                           .where(ranked.c.rank == 1))
    return {r.household_id: LastVisit(r.visit_date, r.verdict,
                                      None if r.submitter_id == user_id else (r.display_name or r.username))
            for r in rows}


# ---- a supervisor's month -----------------------------------------------------------------------------------------

@dataclasses.dataclass(frozen=True)
class SupervisorWork:
    month: str
    #: coverage of the caller's areas this month, its rows (the areas one level down) and its six-month trend
    coverage: CoverageReport
    #: the month's visits whose evidence is questionable or missing (the review list of questionable visits)
    questionable_visits: int
    open_conflicts: int
    #: C/D houses whose renovation is not finished, and how many are at each stage (RENOVATION_STATES order)
    dangerous_houses: int
    renovation: list[tuple[str, int]]
    #: 监测户 by kind (MONITORING_TYPES order, zeros kept)
    monitoring: list[tuple[str, int]]
    #: households on the 排查 list (income or 低保金 under the re-check thresholds of rules.toml)
    screening: int

    def worst_rows(self) -> list[CoverageRow]:
        """The coverage rows, lowest verified coverage first; rows without households last."""
        return sorted(self.coverage.rows, key=lambda r: (r.verified_pct is None, r.verified_pct or 0.0, r.name))


def supervisor_work(session: Session, scope: Scope, month: str) -> SupervisorWork:
    coverage = coverage_for_month(session, scope.area_ids, month)
    # through the partial index of questionable visits on (month, area_id): the month's others are not read
    questionable = session.scalar(scope.filter(select(func.count()).select_from(Visit).where(
        Visit.month == month, questionable_visit()), Visit.area_id))

    # findings by the area they were filed under (their household's, as of its latest reconcile), through the index
    # on (code, area_id): joined to the households, PostgreSQL read every finding of the province (issue 18)
    dangerous, screening = session.execute(scope.filter(
        select(func.count(distinct(case((Finding.code == DANGEROUS_HOUSE, Finding.household_id)))),
               func.count(distinct(case((Finding.code.in_(SCREENING_CODES), Finding.household_id)))))
        .where(Finding.code.in_((DANGEROUS_HOUSE, *SCREENING_CODES))), Finding.area_id)).one()
    stage = func.coalesce(Finding.details["renovation_state"].as_string(), "")
    stages = dict.fromkeys(RENOVATION_STATES, 0) | dict(session.execute(scope.filter(
        select(stage, func.count()).where(Finding.code == DANGEROUS_HOUSE).group_by(stage), Finding.area_id)).all())
    by_type = dict(session.execute(scope.filter(
        select(Household.monitoring_type, func.count()).where(Household.monitoring_type.in_(MONITORING_TYPES))
        .group_by(Household.monitoring_type), Household.area_id)).all())
    return SupervisorWork(
        month=month, coverage=coverage, questionable_visits=questionable,
        open_conflicts=open_conflicts(session, scope, limit=0).total,
        dangerous_houses=dangerous, renovation=list(stages.items()),
        monitoring=[(kind, by_type.get(kind, 0)) for kind in MONITORING_TYPES], screening=screening)
