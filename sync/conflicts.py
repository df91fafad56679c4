"""A supervisor's decisions on a household — a conflict's value, the house's location — stored as inputs, after
which the household is recomputed."""
from __future__ import annotations

from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from server.errors import Problem
from sync.models import Household
from sync.reconcile import ReconcileOptions, reconcile_households
from sync.records import Conflict, Resolution


def resolve_conflict(session: Session, conflict: Conflict, value: Any, note: str | None, user_id: int,
                     username: str, options: ReconcileOptions) -> Conflict:
    if conflict.state != "open":
        done = "已经解决" if conflict.state == "resolved" else "已被更新的数据取代"
        raise Problem(409, "conflict.not_open", f"这个冲突{done}。", f"This conflict is already {conflict.state}.")
    key, household_id = conflict.key, conflict.household_id
    session.add(Resolution(conflict_key=key, household_id=household_id, field=conflict.field, value=value,
                           note=note, resolved_by_id=user_id, resolved_by=username, resolved_at=options.now))
    session.flush()
    number = session.scalar(select(Household.number).where(Household.id == household_id))
    reconcile_households(session, [number], options)
    session.expire_all()
    return session.scalar(select(Conflict).where(Conflict.key == key))


#: the roles that may confirm where a house is (the API and the household page ask the same)
LOCATION_CONFIRMERS = ("admin", "supervisor")


def confirm_location(session: Session, household: Household, latitude: float, longitude: float,
                     options: ReconcileOptions) -> None:
    household.latitude, household.longitude = latitude, longitude
    session.flush()
    reconcile_households(session, [household.number], options)
