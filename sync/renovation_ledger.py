"""The renovation ledger (危房改造台账) as people work through it: the list with its filters, one household's row, the
count a supervisor's home shows, the village's 公示 list, and the facts people enter (a payment to the 一卡通 by
finance staff or an admin; the mode, floor area, priority groups, deadline, a stage seen by a supervisor or an admin),
each kept as a fact of its own after which the household is reconciled again (sync/renovation.py derives the rows).

Every read is limited to the caller's areas (any object with `filter(statement, column)`, server.scope.AreaScope);
another area's house is not found. Services flush; the request commits.
"""
from __future__ import annotations

import dataclasses
import datetime as dt
from typing import Any, Protocol

from sqlalchemy import func, select
from sqlalchemy.orm import Session
from sqlalchemy.sql import ColumnElement, Select

from server.errors import DomainError
from sync.models import Area, Household
from sync.reconcile import ReconcileOptions, reconcile_households
from sync.renovation import GROUPS, MODES, STAGES, next_stage
from sync.renovation_models import Renovation, RenovationEntry
from sync.rules import SAFE_RENOVATION
from sync.values import CHINA

#: roles that may enter payments by hand: finance staff (财务人员) or an admin (issue 19: "payments by hand (finance
#: staff role or admin)"); a supervisor no longer does
PAYERS = ("admin", "finance")
#: roles that may enter the other facts (stage, mode, floor area, groups, deadline)
RECORDERS = ("admin", "supervisor")


def may_enter(role: str, kind: str) -> bool:
    """Whether `role` may enter an entry of `kind`: payments are the payers', everything else the recorders'."""
    return role in (PAYERS if kind == "payment" else RECORDERS)


def may_enter_any(role: str) -> bool:
    return role in PAYERS or role in RECORDERS


def not_allowed(kind: str) -> DomainError:
    """The refusal (403) of an entry of `kind` by a role that may not make it."""
    if kind == "payment":
        return DomainError("forbidden", "renovation.not_allowed", "只有财务人员或管理员可以登记拨付。",
                           "Only finance staff or an admin may enter payments.")
    return DomainError("forbidden", "renovation.not_allowed", "只有审核人员或管理员可以登记危房改造进度、方式等。",
                       "Only a supervisor or an admin may enter the stages, mode and other facts of the ledger.")
#: the largest floor area (m²) and payment (yuan) taken as typed, not mistyped
MAX_FLOOR_AREA = 1000.0
MAX_PAYMENT = 1_000_000.0


class Scope(Protocol):
    def filter(self, statement: Select, column: ColumnElement) -> Select: ...


class Author(Protocol):
    id: int
    username: str
    display_name: str
    role: str


@dataclasses.dataclass(frozen=True)
class LedgerRow:
    """A ledger row with what a list shows of its household."""
    renovation: Renovation
    household: str
    head_name: str
    village: str


@dataclasses.dataclass
class Page:
    total: int
    items: list[LedgerRow]


def china_today(now: dt.datetime) -> dt.date:
    return now.astimezone(CHINA).date()


def _rows(scope: Scope) -> Select:
    statement = (select(Renovation, Household.number, Household.head_name, Area.name)
                 .join(Household, Renovation.household_id == Household.id)
                 .join(Area, Renovation.area_id == Area.id))
    return scope.filter(statement, Renovation.area_id)


def _in_area(statement: Select, area: Area | None) -> Select:
    if area is None:
        return statement
    return statement.where(Renovation.area_id.in_(select(Area.id).where(Area.path.startswith(area.path))))


def _overdue(today: dt.date) -> ColumnElement:
    return (Renovation.deadline < today) & (Renovation.stage != SAFE_RENOVATION)


def _unpaid() -> ColumnElement:
    """Subsidy left to pay to the 一卡通 (to the fen)."""
    return Renovation.subsidy > Renovation.paid_amount + 0.005


def list_renovations(session: Session, scope: Scope, *, today: dt.date, area: Area | None = None,
                     grade: str | None = None, mode: str | None = None, stage: str | None = None,
                     overdue: bool = False, unfinished: bool = False, unpaid: bool = False, limit: int = 50,
                     offset: int = 0) -> Page:
    """Ledger rows in the caller's areas, by deadline then household number. `overdue` keeps the unfinished houses
    past their deadline on `today`; `unfinished` those not yet at the end (DOMAIN.md line 87); `unpaid` those with
    subsidy left to pay."""
    statement = _in_area(_rows(scope), area)
    if grade:
        statement = statement.where(Renovation.grade == grade)
    if mode:
        statement = statement.where(Renovation.mode == mode)
    if stage:
        statement = statement.where(Renovation.stage == stage)
    if unfinished:
        statement = statement.where(Renovation.stage != SAFE_RENOVATION)
    if overdue:
        statement = statement.where(_overdue(today))
    if unpaid:
        statement = statement.where(_unpaid())
    total = session.scalar(select(func.count()).select_from(statement.order_by(None).subquery())) or 0
    rows = session.execute(statement.order_by(Renovation.deadline, Household.number).limit(limit).offset(offset)).all()
    return Page(total, [LedgerRow(*row) for row in rows])


def overdue_count(session: Session, scope: Scope, today: dt.date) -> int:
    """The supervisor's home: unfinished houses in the caller's areas past their deadline, in one query the index on
    (area, stage, deadline) answers."""
    return session.scalar(scope.filter(select(func.count()).select_from(Renovation).where(_overdue(today)),
                                       Renovation.area_id)) or 0


def unpaid_count(session: Session, scope: Scope) -> int:
    """Finance staff's home: houses in the caller's areas with subsidy left to pay to the 一卡通."""
    return session.scalar(scope.filter(select(func.count()).select_from(Renovation).where(_unpaid()),
                                       Renovation.area_id)) or 0


def find_renovation(session: Session, scope: Scope, number: str) -> LedgerRow:
    row = session.execute(_rows(scope).where(Household.number == number)).first()
    if row is None:
        raise DomainError("not_found", "renovation.not_found", f"户 {number} 没有危房改造台账。",
                          f"Household {number} has no renovation ledger row.")
    return LedgerRow(*row)


def household_renovation(session: Session, household_id: int) -> Renovation | None:
    """A household's ledger row for its file (the file's own scoping found the household)."""
    return session.get(Renovation, household_id)


def publicity_list(session: Session, scope: Scope, village: Area) -> list[LedgerRow]:
    """公示 (seed 001: 建立完善危房改造信息公示制度): the village's C/D houses by household number, with what is
    published — name, village, grade, mode, subsidy. No ID number is read."""
    statement = _in_area(_rows(scope), village).order_by(Household.number)
    return [LedgerRow(*row) for row in session.execute(statement)]


def _refuse(code: str, zh: str, en: str, kind: str = "invalid") -> DomainError:
    return DomainError(kind, f"renovation.{code}", zh, en)


def check_entry(renovation: Renovation, kind: str, value: dict[str, Any], today: dt.date) -> dict[str, Any]:
    """The entry as stored, or a refusal: a stage out of order (only the next one may be entered), a payment over
    the subsidy left or dated in the future, a value out of range."""
    def day(name: str) -> str:
        on = value.get(name)
        if not isinstance(on, dt.date):
            raise _refuse("date_required", "请填写日期。", "Give the date.")
        if kind != "deadline" and on > today:
            raise _refuse("date_in_future", "日期不能晚于今天。", "The date cannot be after today.")
        return on.isoformat()

    if kind == "payment":
        amount = float(value.get("amount") or 0)
        if not 0 < amount <= MAX_PAYMENT:
            raise _refuse("amount", "请填写拨付金额（元）。", "Give the amount paid (yuan).")
        left = (renovation.subsidy or 0) - renovation.paid_amount
        if amount > left + 0.005:
            raise _refuse("overpaid", f"拨付金额超过剩余补助 {left:g} 元。",
                          f"The amount is more than the {left:g} yuan of subsidy left.", "conflict")
        return {"amount": round(amount, 2), "on": day("on")}
    if kind == "stage":
        stage, expected = value.get("stage"), next_stage(renovation.stage)
        if stage not in STAGES or stage == "planned":
            raise _refuse("stage", "请选择进度。", "Choose a stage.")
        if stage != expected:
            zh, en = STAGES[expected] if expected else ("改造已完成", "the renovation is finished")
            raise _refuse("out_of_order", f"进度须按顺序登记：下一步是“{zh}”。",
                          f"Stages are entered in order: the next one is “{en}”.", "conflict")
        return {"stage": stage, "on": day("on")}
    if kind == "mode":
        if value.get("mode") not in MODES:
            raise _refuse("mode", "请选择改造方式。", "Choose a renovation mode.")
        return {"mode": value["mode"]}
    if kind == "floor_area":
        m2 = float(value.get("m2") or 0)
        if not 0 < m2 <= MAX_FLOOR_AREA:
            raise _refuse("floor_area", "请填写面积（平方米）。", "Give the floor area (m²).")
        return {"m2": round(m2, 2)}
    if kind == "groups":
        groups = list(value.get("groups") or [])
        if any(g not in GROUPS for g in groups) or len(set(groups)) != len(groups):
            raise _refuse("groups", "重点对象类别无效。", "Unknown priority group.")
        return {"groups": [g for g in GROUPS if g in groups]}
    if kind == "deadline":
        return {"on": day("on")}
    raise _refuse("kind", "无法登记这一项。", "This cannot be entered.")


def enter_renovation_fact(session: Session, renovation: Renovation, kind: str, value: dict[str, Any],
                          user: Author, options: ReconcileOptions) -> Renovation:
    """Keep an entry (the caller checked `may_enter`), then reconcile the household so that its row shows it. The
    household is locked and its row read again first, so that two payments or stages entered at once are checked one
    after the other (the second against the first's result)."""
    household_id = renovation.household_id
    session.execute(select(Household.id).where(Household.id == household_id).with_for_update())
    current = session.get(Renovation, household_id, populate_existing=True)
    if current is None:  # an edit of its assessment took the house off the ledger meanwhile
        raise DomainError("not_found", "renovation.not_found", "这户已不在危房改造台账中。",
                          "This household is no longer on the renovation ledger.")
    stored = check_entry(current, kind, value, china_today(options.now))
    session.add(RenovationEntry(household_id=household_id, kind=kind, value=stored, by_id=user.id,
                                by_name=user.display_name or user.username, at=options.now))
    session.flush()
    number = session.scalar(select(Household.number).where(Household.id == household_id))
    reconcile_households(session, [number], options)
    session.expire_all()
    return session.get(Renovation, household_id)

