"""The household list as devices get it: households.csv, an entity list in ODK Central's shape.

Columns: name (the entity id, the household number), label, __version, then the properties the forms read.
Each device receives only the households of its user's areas.
"""
from __future__ import annotations

import csv
import io

from sqlalchemy import select
from sqlalchemy.orm import Session

from sync.models import Area, Household

COLUMNS = ("name", "label", "__version", "village_code", "village", "head", "latitude", "longitude")


def households_csv(session: Session, area_ids: frozenset[int] | None) -> bytes:
    statement = (select(Household, Area).join(Area, Household.area_id == Area.id).order_by(Household.number))
    if area_ids is not None:
        statement = statement.where(Household.area_id.in_(sorted(area_ids)))
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(COLUMNS)
    for household, area in session.execute(statement):
        writer.writerow((household.number, f"{household.head_name} ({household.number})", 1, area.code, area.name,
                         household.head_name, _coordinate(household.latitude), _coordinate(household.longitude)))
    return out.getvalue().encode("utf-8")


def _coordinate(value: float | None) -> str:
    return "" if value is None else f"{value:.6f}"
