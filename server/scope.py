"""Area scoping: which areas a user may see, applied to every query that returns households, submissions or
media. A record outside the caller's scope is answered with 404, as if it did not exist."""
from __future__ import annotations

import dataclasses

from sqlalchemy import or_, select
from sqlalchemy.orm import Session
from sqlalchemy.sql import ColumnElement, Select

from server.models import User, UserArea
from server.errors import Problem
from sync.id_lists import any_of, binds_arrays
from sync.models import Area, Household
from sync.records import HouseholdRecord


@dataclasses.dataclass(frozen=True)
class AreaScope:
    #: ids of every area the user may see (their areas and all below); None means no restriction (admin)
    area_ids: frozenset[int] | None

    @property
    def unrestricted(self) -> bool:
        return self.area_ids is None

    def allows(self, area_id: int | None) -> bool:
        return self.area_ids is None or (area_id is not None and area_id in self.area_ids)

    #: the caller's account
    user_id: int | None = None
    #: bind the area ids as one array parameter (PostgreSQL: see sync/id_lists.py)
    arrays: bool = False

    def condition(self, column: ColumnElement) -> ColumnElement:
        """column among the scope's areas (not for an unrestricted scope)."""
        return any_of(column, self.area_ids, self.arrays)

    def filter(self, statement: Select, column: ColumnElement) -> Select:
        if self.area_ids is None:
            return statement
        return statement.where(self.condition(column))

    def filter_own(self, statement: Select, column: ColumnElement, owner: ColumnElement) -> Select:
        """As `filter`, and also the caller's own records: a submission they sent about a household outside their
        areas is filed under the household's area and stays readable to them."""
        if self.area_ids is None:
            return statement
        return statement.where(or_(self.condition(column), owner == self.user_id))


def scope_for(session: Session, user: User) -> AreaScope:
    if user.role == "admin":
        return AreaScope(None)
    paths = session.scalars(select(Area.path).join(UserArea, UserArea.area_id == Area.id)
                            .where(UserArea.user_id == user.id)).all()
    arrays = binds_arrays(session)
    if not paths:
        return AreaScope(frozenset(), user.id, arrays)
    ids = session.scalars(select(Area.id).where(or_(*[Area.path.startswith(p) for p in paths]))).all()
    return AreaScope(frozenset(ids), user.id, arrays)


def scoped_household(session: Session, scope: AreaScope, number: str):
    """(household, its area, its record or None) when the household is in the scope; otherwise 404, as if it did
    not exist."""
    statement = scope.filter(
        select(Household, Area, HouseholdRecord).join(Area, Household.area_id == Area.id)
        .outerjoin(HouseholdRecord, HouseholdRecord.household_id == Household.id)
        .where(Household.number == number), Household.area_id)
    row = session.execute(statement).first()
    if row is None:
        raise Problem(404, "household.not_found", f"没有户编号为 {number} 的户。", f"There is no household {number}.")
    return tuple(row)


def level_for(session: Session, user: User, area: Area) -> str | None:
    """The level (county, town, village, group) of the user's highest assigned area that holds `area` (itself or
    above); "county" for an admin, None when none of their areas holds it."""
    if user.role == "admin":
        return "county"
    rows = session.execute(select(Area.path, Area.level).join(UserArea, UserArea.area_id == Area.id)
                           .where(UserArea.user_id == user.id)).all()
    order = ("county", "town", "village", "group")
    levels = [level for path, level in rows if area.path.startswith(path) and level in order]
    return min(levels, key=order.index) if levels else None
