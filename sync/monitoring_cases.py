"""Monitoring cases (防止返贫监测) as people work through them: the list with its filters and counts per state, one
case, a household's cases for its file, the supervisor's count of proposals waiting, and the decisions (纳入, 不纳入,
风险消除) and measures people enter, each kept as a row of its own after which the household is reconciled again
(sync/monitoring.py derives the cases).

Who may do what: a supervisor (of the household's area: the scope finds the case) or an admin decides; a cadre may
not. A measure by hand: the household's paired cadre, a supervisor or an admin. Every read is limited to the caller's
areas (any object with `filter(statement, column)`, server.scope.AreaScope); another area's case is not found.
Services flush; the request commits.
"""
from __future__ import annotations

import dataclasses
from typing import Any

from sqlalchemy import Text, cast, func, select
from sqlalchemy.orm import Session
from sqlalchemy.sql import Select

from server.errors import DomainError
from sync.models import Area, Household
from sync.monitoring import INCLUDE, MEASURE, NEEDS, REMOVE, RISKS, STATES, subtype_refusal, unmet
from sync.monitoring_models import MonitoringCase, MonitoringDecision
from sync.reconcile import ReconcileOptions, reconcile_households
# the same protocols as the review's: any AreaScope, any account
from sync.review import Author, Scope
from sync.rules import exited

#: roles that decide (纳入, 不纳入, 风险消除)
DECIDERS = ("admin", "supervisor")
MAX_TEXT = 2000
#: the help codes a measure may name (the visit form's, sync.forms.visit.HELP)
MEASURE_CODES = ("job", "aid", "housing", "industry", "policy", "other")


@dataclasses.dataclass(frozen=True)
class CaseRow:
    """A case with what a list shows of its household."""
    case: MonitoringCase
    household: str
    head_name: str
    village: str
    status: str


@dataclasses.dataclass
class Page:
    total: int
    items: list[CaseRow]


def _rows(scope: Scope) -> Select:
    statement = (select(MonitoringCase, Household.number, Household.head_name, Area.name, Household.status)
                 .join(Household, MonitoringCase.household_id == Household.id)
                 .join(Area, MonitoringCase.area_id == Area.id))
    return scope.filter(statement, MonitoringCase.area_id)


def _in_area(statement: Select, area: Area | None) -> Select:
    if area is None:
        return statement
    return statement.where(MonitoringCase.area_id.in_(select(Area.id).where(Area.path.startswith(area.path))))


def _filtered(statement: Select, area: Area | None, subtype: str | None, risk: str | None) -> Select:
    statement = _in_area(statement, area)
    if subtype:
        # the decided subtype, else (a proposal) the suggested one
        statement = statement.where(func.coalesce(MonitoringCase.subtype, MonitoringCase.suggested_subtype)
                                    == subtype)
    if risk:
        # risks are a short JSON list of codes (sync.monitoring.RISKS): matched as text on both databases
        like = f'%"{risk}"%'
        statement = statement.where(cast(MonitoringCase.risks, Text).like(like)
                                    | (MonitoringCase.state == "proposed")
                                    & cast(MonitoringCase.suggested_risks, Text).like(like))
    return statement


def list_cases(session: Session, scope: Scope, *, area: Area | None = None, state: str | None = None,
               subtype: str | None = None, risk: str | None = None, limit: int = 50, offset: int = 0) -> Page:
    """Cases in the caller's areas, newest proposal first. Filters: an area and below, state, subtype (decided, else
    suggested), risk type (decided, else suggested for a proposal)."""
    statement = _filtered(_rows(scope), area, subtype, risk)
    if state:
        statement = statement.where(MonitoringCase.state == state)
    total = session.scalar(select(func.count()).select_from(statement.order_by(None).subquery())) or 0
    rows = session.execute(statement.order_by(MonitoringCase.proposed_at.desc(), MonitoringCase.key)
                           .limit(limit).offset(offset)).all()
    return Page(total, [CaseRow(*row) for row in rows])


def state_counts(session: Session, scope: Scope, *, area: Area | None = None, subtype: str | None = None,
                 risk: str | None = None) -> dict[str, int]:
    """How many cases in each state, with the list's other filters."""
    statement = _filtered(scope.filter(select(MonitoringCase.state, func.count()).select_from(MonitoringCase),
                                       MonitoringCase.area_id), area, subtype, risk)
    counts = dict(session.execute(statement.group_by(MonitoringCase.state)).all())
    return {state: counts.get(state, 0) for state in STATES}


def proposed_count(session: Session, scope: Scope) -> int:
    """The supervisor's home: proposals waiting for a decision in the caller's areas."""
    return session.scalar(scope.filter(select(func.count()).select_from(MonitoringCase)
                                       .where(MonitoringCase.state == "proposed"), MonitoringCase.area_id)) or 0


def find_case(session: Session, scope: Scope, key: str) -> CaseRow:
    row = session.execute(_rows(scope).where(MonitoringCase.key == key)).first()
    if row is None:
        raise DomainError("not_found", "monitoring.not_found", "没有这个监测案例。", "No such monitoring case.")
    return CaseRow(*row)


def household_cases(session: Session, household_id: int) -> list[MonitoringCase]:
    """A household's cases for its file, newest first (the file's own scoping found the household)."""
    return list(session.scalars(select(MonitoringCase).where(MonitoringCase.household_id == household_id)
                                .order_by(MonitoringCase.proposed_at.desc())))


def may_decide(role: str) -> bool:
    return role in DECIDERS


def may_add_measure(role: str, username: str, cadre: str | None) -> bool:
    return role in DECIDERS or (cadre is not None and username == cadre)


def check_may_act(user: Author, case: MonitoringCase, kind: str) -> None:
    """Refuse (403) a decision by anyone but a supervisor or an admin, and a measure by anyone but them and the
    household's paired cadre. The scope has already found the case (another area's is not found)."""
    if kind == MEASURE:
        if not may_add_measure(user.role, user.username, case.cadre):
            raise _refuse("measure_not_allowed", "只有该户的帮扶责任人、审核人员或管理员可以登记帮扶措施。",
                          "Only the household's paired cadre, a supervisor or an admin may enter a measure.",
                          "forbidden")
    elif not may_decide(user.role):
        raise _refuse("not_allowed", "只有审核人员或管理员可以对监测案例作出决定。",
                      "Only a supervisor or an admin may decide on a monitoring case.", "forbidden")


def _refuse(code: str, zh: str, en: str, kind: str = "invalid", **details: Any) -> DomainError:
    return DomainError(kind, f"monitoring.{code}", zh, en, details or None)


def check_decision(case: MonitoringCase, household: Household, kind: str, value: dict[str, Any],
                   text: str) -> dict[str, Any]:
    """The decision's value as stored, or a refusal: a step out of order (conflict), a subtype that does not fit the
    household (DOMAIN.md line 91), no reason, 风险消除 with a condition unmet (conflict, the conditions named)."""
    if kind not in NEEDS:
        raise _refuse("kind", "无法登记这一项。", "This cannot be entered.")
    if case.state not in NEEDS[kind]:
        zh_state, en_state = STATES[case.state]
        raise _refuse("out_of_order", f"监测案例当前为“{zh_state}”，不能进行这一步。",
                      f"The case is {en_state}: this step does not apply.", "conflict", state=case.state)
    if not text.strip():
        raise _refuse("text_required", "请填写理由或措施。", "Give the reason or the measure.")
    if len(text) > MAX_TEXT:
        raise _refuse("text_too_long", f"最多 {MAX_TEXT} 个字。", f"At most {MAX_TEXT} characters.")
    if kind == INCLUDE:
        subtype, risks = value.get("subtype"), list(value.get("risks") or [])
        refusal = subtype_refusal(subtype or "", exited(household.status, household.monitoring_type))
        if refusal:
            raise _refuse("subtype", *refusal)
        if not risks or any(r not in RISKS for r in risks):
            raise _refuse("risks", "请选择至少一种风险类型。", "Choose at least one risk type.")
        return {"subtype": subtype, "risks": [r for r in RISKS if r in risks]}
    if kind == MEASURE:
        codes = list(value.get("codes") or [])
        if any(c not in MEASURE_CODES for c in codes):
            raise _refuse("codes", "帮扶措施类别无效。", "Unknown kind of measure.")
        return {"codes": [c for c in MEASURE_CODES if c in codes]}
    if kind == REMOVE:
        missing = unmet(case.conditions)
        if missing:
            raise _refuse("conditions_unmet", "风险消除的条件未满足：" + "；".join(c["zh"] for c in missing) + "。",
                          "The conditions of removing the risk are not met: "
                          + "; ".join(c["en"] for c in missing) + ".", "conflict",
                          unmet=[c["code"] for c in missing])
    return {}


def enter_decision(session: Session, key: str, kind: str, value: dict[str, Any], text: str, user: Author,
                   options: ReconcileOptions) -> MonitoringCase:
    """Keep a decision or measure of `user` on the case, then reconcile its household so that the case shows it.
    The household is locked and reconciled first, so that the case (its state, the conditions as of now) is the
    current one and two decisions at once are checked one after the other. Role refusals are the caller's (the
    API and the page check may_decide / may_add_measure)."""
    household_id = session.scalar(select(MonitoringCase.household_id).where(MonitoringCase.key == key))
    household = session.get(Household, household_id) if household_id is not None else None
    if household is None:
        raise DomainError("not_found", "monitoring.not_found", "没有这个监测案例。", "No such monitoring case.")
    reconcile_households(session, [household.number], options)
    session.expire_all()
    household = session.get(Household, household_id)
    case = session.get(MonitoringCase, key)
    if case is None:  # an edit of the submission that proposed it took the case away meanwhile
        raise DomainError("not_found", "monitoring.not_found", "这个监测案例已不存在。",
                          "This monitoring case no longer exists.")
    stored = check_decision(case, household, kind, value, text)
    session.add(MonitoringDecision(case_key=key, household_id=household_id, kind=kind, value=stored,
                                   text=text.strip(), by_id=user.id,
                                   by_name=(user.display_name or user.username)[:100], at=options.now))
    session.flush()
    reconcile_households(session, [household.number], options)
    session.expire_all()
    return session.get(MonitoringCase, key)

