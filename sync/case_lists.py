"""Problem cases as people work through them: the counts a supervisor's home shows, a cadre's open cases, the list
with its filters, one case, and the decisions people make on a case (a sign-off, a measure), each kept as a fact
of its own after which the household is reconciled again (sync/cases.py derives the cases).

Every read is limited to the caller's areas (any object with `filter(statement, column)`, server.scope.AreaScope);
another area's case is not found. Services flush; the request commits.
"""
from __future__ import annotations

import dataclasses
import datetime as dt
from typing import Any, Iterable, Protocol

from sqlalchemy import case as when, func, select
from sqlalchemy.orm import Session
from sqlalchemy.sql import Select

from server.db import utcnow
from server.errors import DomainError
from sync.case_models import OPEN_STATES, Case, CaseDecision
from sync.models import Area, Household
from sync import review
from sync.reconcile import ReconcileOptions, reconcile_households
from sync.review import Scope

#: the longest sign-off reason or measure a person may type
MAX_TEXT = 2000
#: a list's state filter → the states it means
STATE_FILTERS = {"open": OPEN_STATES, "done": ("closed", "signed_off"), "reopened": ("reopened",),
                 "closed": ("closed",), "signed_off": ("signed_off",)}
#: age buckets of open cases, by days since the current episode opened: under 30, 30 to 90, over 90
AGE_BUCKETS = ("lt30", "30to90", "gt90")
#: roles that may sign a case off (销号)
SIGNERS = ("admin", "supervisor")


class Author(review.Author, Protocol):
    role: str


@dataclasses.dataclass(frozen=True)
class CaseRow:
    """A case with what a list shows of its household."""
    case: Case
    household: str
    head_name: str
    village: str


@dataclasses.dataclass
class Page:
    total: int
    items: list[CaseRow]


def _in_area(statement: Select, area: Area | None) -> Select:
    if area is None:
        return statement
    return statement.where(Case.area_id.in_(select(Area.id).where(Area.path.startswith(area.path))))


def _rows(scope: Scope) -> Select:
    statement = (select(Case, Household.number, Household.head_name, Area.name)
                 .join(Household, Case.household_id == Household.id).join(Area, Case.area_id == Area.id))
    return scope.filter(statement, Case.area_id)


def case_counts(session: Session, scope: Scope, *, area: Area | None = None,
                now: dt.datetime | None = None) -> dict[str, Any]:
    """Open cases in the caller's areas (or under `area`): how many, by kind and by age, as one query that the
    index on (area, state, kind, opened) answers alone. {"open": n, "by_kind": {kind: n},
    "by_age": {"lt30": n, "30to90": n, "gt90": n}}"""
    now = now or utcnow()
    bucket = when((Case.opened_at > now - dt.timedelta(days=30), "lt30"),
                  (Case.opened_at >= now - dt.timedelta(days=90), "30to90"), else_="gt90").label("bucket")
    statement = _in_area(scope.filter(select(Case.kind, bucket, func.count()).where(Case.state.in_(OPEN_STATES)),
                                      Case.area_id), area).group_by(Case.kind, bucket)
    counts: dict[str, Any] = {"open": 0, "by_kind": {}, "by_age": dict.fromkeys(AGE_BUCKETS, 0)}
    for kind, age, n in session.execute(statement):
        counts["open"] += n
        counts["by_kind"][kind] = counts["by_kind"].get(kind, 0) + n
        counts["by_age"][age] += n
    return counts


def open_cases(session: Session, scope: Scope, cadre: str | None = None,
               household_ids: Iterable[int] | None = None, limit: int = 50) -> list[CaseRow]:
    """Open cases in the caller's areas, oldest first: those assigned to `cadre` (a user name), or of these
    households — a cadre's home."""
    statement = _rows(scope).where(Case.state.in_(OPEN_STATES))
    if cadre is not None:
        statement = statement.where(Case.cadre == cadre)
    if household_ids is not None:
        statement = statement.where(Case.household_id.in_(list(household_ids)))
    rows = session.execute(statement.order_by(Case.opened_at, Case.key).limit(limit)).all()
    return [CaseRow(*row) for row in rows]


def list_cases(session: Session, scope: Scope, *, area: Area | None = None, kind: str | None = None,
               state: str | None = None, min_age_days: int | None = None, cadre: str | None = None,
               limit: int = 50, offset: int = 0, now: dt.datetime | None = None) -> Page:
    """Cases in the caller's areas, oldest first. `state` is one of STATE_FILTERS; `min_age_days` keeps the cases
    whose current episode opened at least that many days ago."""
    statement = _in_area(_rows(scope), area)
    if kind:
        statement = statement.where(Case.kind == kind)
    if state:
        statement = statement.where(Case.state.in_(STATE_FILTERS[state]))
    if min_age_days:
        statement = statement.where(Case.opened_at <= (now or utcnow()) - dt.timedelta(days=min_age_days))
    if cadre:
        statement = statement.where(Case.cadre == cadre)
    total = session.scalar(select(func.count()).select_from(statement.order_by(None).subquery())) or 0
    rows = session.execute(statement.order_by(Case.opened_at, Case.key).limit(limit).offset(offset)).all()
    return Page(total, [CaseRow(*row) for row in rows])


def household_cases(session: Session, household_id: int) -> list[Case]:
    """A household's cases for its file: open ones first, each group oldest first."""
    cases = session.scalars(select(Case).where(Case.household_id == household_id)
                            .order_by(Case.opened_at, Case.key)).all()
    return sorted(cases, key=lambda c: c.state not in OPEN_STATES)


def find_case(session: Session, scope: Scope, key: str) -> CaseRow:
    row = session.execute(_rows(scope).where(Case.key == key)).first()
    if row is None:
        raise DomainError("not_found", "case.not_found", "没有这个问题。", "There is no such case.")
    return CaseRow(*row)


def may_add_measure(user: Author, case: Case) -> bool:
    """The household's paired cadre, a supervisor or an admin records what was done."""
    return user.role in SIGNERS or (user.role == "cadre" and case.cadre == user.username)


def sign_off_case(session: Session, case: Case, reason: str | None, user: Author,
                  options: ReconcileOptions) -> Case:
    """A supervisor's 销号: the case is closed with the reason given, until it is observed again."""
    return _decide(session, case, "sign_off", reason, user, options)


def add_case_measure(session: Session, case: Case, text: str | None, user: Author,
                     options: ReconcileOptions) -> Case:
    """A measure taken on an open case, entered by hand."""
    return _decide(session, case, "measure", text, user, options)


def _decide(session: Session, case: Case, kind: str, text: str | None, user: Author,
            options: ReconcileOptions) -> Case:
    body = (text or "").strip()
    if not body:
        raise DomainError("invalid", f"case.{kind}_text_required",
                          "请填写销号理由。" if kind == "sign_off" else "请填写采取的措施。",
                          "Give the reason for signing off." if kind == "sign_off" else "Say what was done.")
    if len(body) > MAX_TEXT:
        raise DomainError("invalid", "case.text_too_long", f"最多 {MAX_TEXT} 个字。",
                          f"At most {MAX_TEXT} characters.")
    if case.state not in OPEN_STATES:
        raise DomainError("conflict", "case.not_open", "这个问题已经销号或已解决。",
                          "This case is already closed or signed off.")
    key, household_id = case.key, case.household_id
    session.add(CaseDecision(case_key=key, household_id=household_id, kind=kind, text=body, by_id=user.id,
                             by_name=user.display_name or user.username, at=options.now))
    session.flush()
    number = session.scalar(select(Household.number).where(Household.id == household_id))
    reconcile_households(session, [number], options)
    session.expire_all()
    return session.scalar(select(Case).where(Case.key == key))
