"""A supervisor's decisions on a household — a conflict's value, the house's location — stored as inputs, after
which the household is recomputed."""
from __future__ import annotations

import math
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from server.errors import DomainError
from sync.models import Household
from sync.reconcile import ReconcileOptions, reconcile_households
from sync.records import Conflict, Resolution


#: the longest value a supervisor may type in for a conflict (a remark is the longest field a form has)
MAX_RESOLUTION_TEXT = 2000


def check_resolution(conflict: Conflict, value: Any) -> None:
    """A resolution becomes the field's value in the record, which pages and exports read as the form's own values:
    it is one of the values in conflict, nothing, or a value of their kind — text of bounded length, or a finite
    number when they are numbers. Anything else (a list, an object, infinity) is refused before it is stored."""
    known = [entry.get("value") for entry in conflict.entries]
    if value is None or value in known and not isinstance(value, bool):
        return
    numbers = [v for v in known if v is not None]
    numeric = bool(numbers) and all(isinstance(v, (int, float)) and not isinstance(v, bool) for v in numbers)
    if numeric and isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value):
        return
    if not numeric and isinstance(value, str) and len(value) <= MAX_RESOLUTION_TEXT:
        return
    kind_zh, kind_en = ("一个数", "a number") if numeric else (f"不超过 {MAX_RESOLUTION_TEXT} 字的文字",
                                                           f"text of at most {MAX_RESOLUTION_TEXT} characters")
    raise DomainError("invalid", "conflict.value_invalid", f"解决冲突的值应为冲突中的一个值，或{kind_zh}。",
                      f"The value must be one of the values in conflict, or {kind_en}.",
                      details={"field": conflict.field, "values": known})


def resolve_conflict(session: Session, conflict: Conflict, value: Any, note: str | None, user_id: int,
                     username: str, options: ReconcileOptions) -> Conflict:
    if conflict.state != "open":
        done = "已经解决" if conflict.state == "resolved" else "已被更新的数据取代"
        raise DomainError("conflict", "conflict.not_open", f"这个冲突{done}。",
                          f"This conflict is already {conflict.state}.")
    check_resolution(conflict, value)
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
