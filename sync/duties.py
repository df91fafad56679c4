"""Visiting duties by role (走访职责, 遍访; DOMAIN.md "Precisions": "Who must visit: the paired cadre monthly; the
village secretary and town secretary every poor household (遍访, 001, 002, 004); the village work team lives in the
village ≥ 20 days a month (001)").

The rules, pure (`paired_met`, `secretary_met`, `secretary_window`, `work_team_days`), decide per household from
its visits; `duties_for_month` reads an area's households and the few visits that can meet a duty, applies them
and says, per village, who has not met their duty and which households are left:

- the paired cadre: each household with a cadre (Household.cadre) visited in the month by that cadre's own
  account; a visit by anybody else does not do the cadre's duty (as the coverage's cadre rows);
- the village secretary and the town secretary: each household visited by an account that had that role when
  the visit was received (visits.visitor_duty, set at acceptance from the authenticated account, never from a name
  in the XML) within the configured period (rules.toml [duties]: the month looked at and the months before it);
- the work team: per member, the visits and the distinct days with a visit in the village in the month, against
  the days they must live there. A visit records a day in the village, not all of them: fewer recorded days says
  "not shown on record", never "absent".

Every household of the roster is due (未脱贫, 已脱贫, 监测户, 返贫): the roster is the 建档立卡 list, exited households
stay followed (摘帽不摘帮扶, seed 001) and monitored ones are those at risk. A visit that found nobody home (verdict
`attempt`) meets no duty (DOMAIN.md: "counts as an attempt, not a visit"), but it is a day in the village.

Who is listed for a secretary's duty: the active accounts with that role whose areas cover the village; a village
without one is shown as such, with its households all the same.
"""
from __future__ import annotations

import dataclasses
import datetime as dt
from collections import defaultdict
from typing import Iterable, Optional

from sqlalchemy import Integer, String, and_, column, or_, select, table
from sqlalchemy.orm import Session

from sync.coverage import AreaRef, _view, parse_month, month_name
from sync.evidence import ATTEMPT
from sync.id_lists import among
from sync.models import Area, Household
from sync.records import Visit
from sync.visitor_roles import TOWN_SECRETARY, VILLAGE_SECRETARY, WORK_TEAM

SECRETARIES = (VILLAGE_SECRETARY, TOWN_SECRETARY)
#: rules.toml [duties] key of each secretary's period in months
PERIOD_KEYS = {VILLAGE_SECRETARY: "village_secretary_months", TOWN_SECRETARY: "town_secretary_months"}

# the accounts tables, without importing the server shell (domain packages may not import server.models)
_users = table("users", column("id", Integer), column("username", String), column("display_name", String),
               column("duty", String), column("active"))
_user_areas = table("user_areas", column("user_id", Integer), column("area_id", Integer))


# ---- the rules --------------------------------------------------------------------------------------------------

@dataclasses.dataclass(frozen=True)
class DutyVisit:
    """A visit as the duties see it."""

    household_id: int
    #: "YYYY-MM" of the visit date
    month: Optional[str]
    date: Optional[dt.date]
    #: the submitting account's user name
    visitor: Optional[str]
    #: the visitor's role when the visit was received
    duty: Optional[str]
    verdict: Optional[str]

    @property
    def is_visit(self) -> bool:
        """Somebody was met: an attempt (nobody home) is not a visit."""
        return self.verdict != ATTEMPT


def secretary_window(month: str, months: int) -> tuple[str, str]:
    """The months (first, last) in which a secretary's visit meets the duty for `month`: `month` and the months
    before it, `months` in all (at least the month itself)."""
    number = parse_month(month)
    return month_name(number - max(1, int(months)) + 1), month


def paired_met(cadre: Optional[str], visits: Iterable[DutyVisit], month: str) -> Optional[bool]:
    """The paired cadre visited the household in the month with their own account (DOMAIN.md "Precisions": the
    paired cadre monthly); None when the household has no paired cadre."""
    if not cadre:
        return None
    return any(v.is_visit and v.month == month and v.visitor == cadre for v in visits)


def secretary_met(duty: str, visits: Iterable[DutyVisit], month: str, months: int) -> bool:
    """A visitor with the secretary's role when the visit was received visited the household within the period
    ending with `month` (DOMAIN.md "Precisions": the village secretary and town secretary every poor household)."""
    first, last = secretary_window(month, months)
    return any(v.is_visit and v.duty == duty and v.month is not None and first <= v.month <= last for v in visits)


def work_team_days(visits: Iterable[DutyVisit], month: str) -> dict[str, tuple[int, int]]:
    """Work-team member → (visits, distinct days with a visit or an attempt) in the month (DOMAIN.md "Precisions":
    the village work team lives in the village ≥ 20 days a month): an attempt is a day in the village too."""
    counts: dict[str, int] = defaultdict(int)
    days: dict[str, set[dt.date]] = defaultdict(set)
    for v in visits:
        if v.duty == WORK_TEAM and v.month == month and v.visitor:
            counts[v.visitor] += 1 if v.is_visit else 0
            if v.date is not None:
                days[v.visitor].add(v.date)
    return {member: (counts[member], len(days[member])) for member in counts}


# ---- results ----------------------------------------------------------------------------------------------------

@dataclasses.dataclass(frozen=True)
class DueHousehold:
    number: str
    head_name: str


@dataclasses.dataclass(frozen=True)
class Person:
    username: str
    name: str


@dataclasses.dataclass(frozen=True)
class CadreDuty:
    """A paired cadre of the village: their households there and those they have not visited this month."""

    cadre: Person
    assigned: int
    missing: list[DueHousehold]


@dataclasses.dataclass(frozen=True)
class SecretaryDuty:
    """One secretary role in a village: the accounts that hold it there, and the households nobody with the role
    visited within the period."""

    duty: str
    #: the period: first and last month
    first: str
    last: str
    accounts: list[Person]
    missing: list[DueHousehold]


@dataclasses.dataclass(frozen=True)
class WorkTeamMember:
    member: Person
    visits: int
    days: int
    #: days recorded ≥ the days they must live in the village
    enough: bool


@dataclasses.dataclass(frozen=True)
class VillageDuties:
    village: AreaRef
    town: Optional[AreaRef]
    households: int
    #: the cadres with at least one household of the village, those with missing households first
    cadres: list[CadreDuty]
    secretaries: list[SecretaryDuty]
    work_team: list[WorkTeamMember]
    work_team_days: int

    @property
    def paired_missing(self) -> int:
        return sum(len(c.missing) for c in self.cadres)

    def secretary(self, duty: str) -> SecretaryDuty:
        return next(s for s in self.secretaries if s.duty == duty)


@dataclasses.dataclass(frozen=True)
class DutyReport:
    month: str
    area: Optional[AreaRef]
    breadcrumb: list[AreaRef]
    villages: list[VillageDuties]


@dataclasses.dataclass(frozen=True)
class DutySummary:
    """The numbers a supervisor's home shows for the duties of a month."""

    month: str
    households: int
    #: households with a paired cadre, and those of them the cadre has not visited this month
    paired_due: int
    paired_missing: int
    #: cadres with at least one household not visited this month
    cadres_behind: int
    #: households no village secretary / town secretary visited within their period
    village_secretary_missing: int
    town_secretary_missing: int
    #: villages where some household is left for a secretary
    villages_behind: int
    #: work-team members with visits this month, and those with fewer recorded days than they must live there
    work_team_members: int
    work_team_short: int


# ---- the service ------------------------------------------------------------------------------------------------

def duties_for_month(session: Session, area_ids: Optional[Iterable[int]], month: str, config: dict[str, float],
                     area_code: Optional[str] = None) -> DutyReport:
    """Each village's duties in the month under the area (default: the caller's whole view), in area-code order.
    `config`: RulesConfig.duties. An area outside `area_ids` is not found, exactly as if it did not exist."""
    parse_month(month)
    view = _view(session, area_ids, area_code)
    if not view.filter_ids:
        return DutyReport(month, view.area, view.breadcrumb, [])
    ancestry = _ancestry(session, view.filter_ids)
    households = session.execute(select(Household.id, Household.number, Household.head_name, Household.cadre,
                                        Household.area_id)
                                 .where(among(session, Household.area_id, view.filter_ids))
                                 .order_by(Household.number)).all()
    visits = _duty_visits(session, view.filter_ids, month, config)
    by_household: dict[int, list[DutyVisit]] = defaultdict(list)
    for v in visits:
        by_household[v.household_id].append(v)
    villages: dict[int, list] = defaultdict(list)
    for h in households:
        village = ancestry.get(h.area_id, {}).get("village")
        if village is not None:
            villages[village.id].append(h)
    accounts = _role_accounts(session)
    names = _names(session, {h.cadre for h in households if h.cadre})
    team_visits: dict[int, list[DutyVisit]] = defaultdict(list)
    village_of = {h.id: ancestry.get(h.area_id, {}).get("village") for h in households}
    for v in visits:
        if v.duty == WORK_TEAM and village_of.get(v.household_id) is not None:
            team_visits[village_of[v.household_id].id].append(v)
    names.update(_names(session, {v.visitor for v in visits if v.duty == WORK_TEAM and v.visitor}))
    report = []
    for village_id in sorted(villages, key=lambda i: _village_ref(ancestry, villages[i][0]).code):
        rows = villages[village_id]
        village = _village_ref(ancestry, rows[0])
        town = ancestry.get(rows[0].area_id, {}).get("town")
        report.append(_village_duties(village, town, rows, by_household, team_visits[village_id], accounts,
                                      ancestry[village.id]["path"], names, month, config))
    return DutyReport(month, view.area, view.breadcrumb, report)


def duty_summary(session: Session, area_ids: Optional[Iterable[int]], month: str, config: dict[str, float],
                 area_code: Optional[str] = None) -> DutySummary:
    """The duties of the month under the area as counts, for a supervisor's home."""
    report = duties_for_month(session, area_ids, month, config, area_code)
    v = report.villages
    return DutySummary(
        month=month, households=sum(x.households for x in v),
        paired_due=sum(c.assigned for x in v for c in x.cadres), paired_missing=sum(x.paired_missing for x in v),
        cadres_behind=len({c.cadre.username for x in v for c in x.cadres if c.missing}),
        village_secretary_missing=sum(len(x.secretary(VILLAGE_SECRETARY).missing) for x in v),
        town_secretary_missing=sum(len(x.secretary(TOWN_SECRETARY).missing) for x in v),
        villages_behind=sum(1 for x in v if any(s.missing for s in x.secretaries)),
        work_team_members=sum(len(x.work_team) for x in v),
        work_team_short=sum(1 for x in v for m in x.work_team if not m.enough))


def _village_duties(village: AreaRef, town: Optional[AreaRef], rows, by_household, team_visits, accounts,
                    village_path: str, names: dict[str, str], month: str, config: dict[str, float]) -> VillageDuties:
    cadres: dict[str, list] = defaultdict(list)
    missing: dict[str, list[DueHousehold]] = defaultdict(list)
    for h in rows:
        due = DueHousehold(h.number, h.head_name)
        visits = by_household.get(h.id, [])
        met = paired_met(h.cadre, visits, month)
        if met is not None:
            cadres[h.cadre].append(due)
            if not met:
                missing[h.cadre].append(due)
        for duty in SECRETARIES:
            if not secretary_met(duty, visits, month, int(config[PERIOD_KEYS[duty]])):
                missing[duty].append(due)
    cadre_rows = sorted((CadreDuty(Person(c, names.get(c, c)), len(assigned), missing[c])
                         for c, assigned in cadres.items()), key=lambda c: (not c.missing, c.cadre.username))
    secretaries = []
    for duty in SECRETARIES:
        first, last = secretary_window(month, int(config[PERIOD_KEYS[duty]]))
        holders = [Person(a.username, a.display_name or a.username) for a in accounts
                   if a.duty == duty and village_path.startswith(a.path)]
        secretaries.append(SecretaryDuty(duty, first, last, sorted(set(holders), key=lambda p: p.username),
                                         missing[duty]))
    days_needed = int(config["work_team_days"])
    members = {a.username: Person(a.username, a.display_name or a.username) for a in accounts
               if a.duty == WORK_TEAM and village_path.startswith(a.path)}
    recorded = work_team_days(team_visits, month)
    for visitor in recorded:
        members.setdefault(visitor, Person(visitor, names.get(visitor, visitor)))
    team = [WorkTeamMember(person, *recorded.get(name, (0, 0)), recorded.get(name, (0, 0))[1] >= days_needed)
            for name, person in sorted(members.items())]
    return VillageDuties(village, town, len(rows), cadre_rows, secretaries, team, days_needed)


def _duty_visits(session: Session, area_ids: list[int], month: str, config: dict[str, float]) -> list[DutyVisit]:
    """The visits that can meet a duty of the month: the month's visits by the household's own cadre, and the
    secretaries' and work team's visits of their periods — each through an index on (area_id, …, month)."""
    columns = (Visit.household_id, Visit.month, Visit.visit_date, _users.c.username, Visit.visitor_duty,
               Visit.verdict)
    paired = (select(*columns).select_from(Visit).join(Household, Household.id == Visit.household_id)
              .join(_users, _users.c.id == Visit.submitter_id)
              .where(among(session, Visit.area_id, area_ids), Visit.month == month,
                     _users.c.username == Household.cadre))
    by_role = [and_(Visit.visitor_duty == WORK_TEAM, Visit.month == month)]
    for duty in SECRETARIES:
        first, last = secretary_window(month, int(config[PERIOD_KEYS[duty]]))
        by_role.append(and_(Visit.visitor_duty == duty, Visit.month >= first, Visit.month <= last))
    roles = (select(*columns).select_from(Visit).outerjoin(_users, _users.c.id == Visit.submitter_id)
             .where(among(session, Visit.area_id, area_ids), or_(*by_role)))
    seen = set()
    out = []
    for statement in (paired, roles):
        for row in session.execute(statement):
            key = tuple(row)
            if key not in seen:  # a paired cadre who is also, say, on the work team comes twice
                seen.add(key)
                out.append(DutyVisit(row.household_id, row.month, row.visit_date, row.username, row.visitor_duty,
                                     row.verdict))
    return out


def _ancestry(session: Session, area_ids: list[int]) -> dict[int, dict]:
    """Area id → {"village": AreaRef, "town": AreaRef, "path": str} for each area and its village and town
    ancestors (the ancestors may lie outside the caller's view: only their names are shown)."""
    rows = {r.id: r for r in session.execute(select(Area.id, Area.code, Area.name, Area.level, Area.path)
                                             .where(among(session, Area.id, area_ids)))}
    above = {int(p) for r in rows.values() for p in r.path.strip("/").split("/") if p} - set(rows)
    if above:
        rows.update({r.id: r for r in session.execute(select(Area.id, Area.code, Area.name, Area.level, Area.path)
                                                      .where(Area.id.in_(sorted(above))))})
    out = {}
    for area_id, row in rows.items():
        chain = [rows[int(p)] for p in row.path.strip("/").split("/") if p and int(p) in rows]
        entry: dict = {"path": row.path}
        for level in ("village", "town"):
            found = next((a for a in chain if a.level == level), None)
            entry[level] = AreaRef(found.id, found.code, found.name, found.level) if found else None
        out[area_id] = entry
    return out


def _village_ref(ancestry: dict[int, dict], household) -> AreaRef:
    return ancestry[household.area_id]["village"]


def _role_accounts(session: Session):
    """The active accounts with a secretary's or the work team's role, once per area they cover (with its path)."""
    return session.execute(select(_users.c.username, _users.c.display_name, _users.c.duty, Area.path)
                           .join(_user_areas, _user_areas.c.user_id == _users.c.id)
                           .join(Area, Area.id == _user_areas.c.area_id)
                           .where(_users.c.duty.in_((*SECRETARIES, WORK_TEAM)), _users.c.active.is_(True))).all()


def _names(session: Session, usernames: set[str]) -> dict[str, str]:
    if not usernames:
        return {}
    return {u: d or u for u, d in session.execute(select(_users.c.username, _users.c.display_name)
                                                  .where(_users.c.username.in_(sorted(usernames))))}
