"""The household list as devices get it: households.csv, an entity list in ODK Central's shape.

Columns (forms/README.md, "households.csv"): name (the entity id, the household number), label, __version, the
roster's properties, then those the forms read and write (each form's module in sync/forms names its own). Each
device receives only the households of its user's areas. The rendering is cached per (list revision, areas): the
revision is replaced whenever any household row changes, so the cache never serves a stale list, and the manifest
hash (md5 of the content) changes exactly when the caller's own list does.
"""
from __future__ import annotations

import csv
import hashlib
import io
import threading
import uuid
from collections import OrderedDict

from sqlalchemy import func, select, update
from sqlalchemy.orm import Session

from sync.forms import ENTITY_COLUMNS
from sync.id_lists import among
from sync.models import Area, EntityList, Household, Member
from sync.records import HouseholdRecord

#: the roster's columns, then the household fields the forms maintain (each form's module names its own)
ROSTER_COLUMNS = ("name", "label", "__version", "village_code", "village", "head", "size", "status",
                  "monitoring_type", "latitude", "longitude", "cadre")
COLUMNS = ROSTER_COLUMNS + ENTITY_COLUMNS

_cache: OrderedDict[tuple, tuple[bytes, str]] = OrderedDict()
_cache_lock = threading.Lock()
_CACHE_ENTRIES = 512


def bump_revision(session: Session, name: str) -> None:
    """Record that the list changed; call in the same transaction as the change."""
    revision = uuid.uuid4().hex
    if session.get(EntityList, name) is None:
        session.add(EntityList(name=name, revision=revision))
        session.flush()
    else:
        session.execute(update(EntityList).where(EntityList.name == name).values(revision=revision))


def households_csv(session: Session, area_ids: frozenset[int] | None) -> tuple[bytes, str]:
    """The caller's households.csv and its md5 hex digest."""
    revision = session.scalar(select(EntityList.revision).where(EntityList.name == "households"))
    key = (revision, None if area_ids is None else tuple(sorted(area_ids)))
    with _cache_lock:
        if key in _cache:
            _cache.move_to_end(key)
            return _cache[key]
    content = _render(session, area_ids)
    result = (content, hashlib.md5(content).hexdigest())
    if revision is None:  # nothing has recorded a change yet: no key to trust
        return result
    with _cache_lock:
        _cache[key] = result
        while len(_cache) > _CACHE_ENTRIES:
            _cache.popitem(last=False)
    return result


def _render(session: Session, area_ids: frozenset[int] | None) -> bytes:
    """A household not reconciled yet shows its roster values; afterwards its record's."""
    statement = (select(Household, Area.code, Area.name, HouseholdRecord.fields, HouseholdRecord.version,
                        HouseholdRecord.size)
                 .join(Area, Household.area_id == Area.id)
                 .outerjoin(HouseholdRecord, HouseholdRecord.household_id == Household.id)
                 .order_by(Household.number))
    if area_ids is not None:
        statement = statement.where(among(session, Household.area_id, area_ids))
    sizes = _roster_sizes(session, area_ids)
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(COLUMNS)
    for household, area_code, area_name, fields, version, size in session.execute(statement):
        fields = fields or {}
        writer.writerow((
            household.number, f"{household.head_name} ({household.number})", version or household.roster_version,
            area_code, area_name, household.head_name, size if size is not None else sizes.get(household.id, 0),
            household.status, household.monitoring_type or "", _coordinate(household.latitude), _coordinate(household.longitude),
            household.cadre or "", *(_text(fields.get(column, {}).get("value")) for column in ENTITY_COLUMNS)))
    return out.getvalue().encode("utf-8")


def _roster_sizes(session: Session, area_ids: frozenset[int] | None) -> dict[int, int]:
    statement = select(Member.household_id, func.count()).group_by(Member.household_id)
    if area_ids is not None:
        statement = statement.join(Household, Member.household_id == Household.id).where(
            among(session, Household.area_id, area_ids))
    return dict(session.execute(statement).all())


def _coordinate(value: float | None) -> str:
    return "" if value is None else f"{value:.6f}"


def _text(value) -> str:
    return "" if value is None else str(value)
