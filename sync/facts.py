"""What a submission says, read once from its XML into plain values: the reconciler's input.

Pure: XML bytes (and the received time, as a last resort for the observation time) in, a `Fact` out. Each form's
module in sync/forms reads its own questions; this module reads what every form shares (the times, the household,
the entity block). A form the reconciler does not know still yields a Fact (household, time, entity block) so that
it appears in the household's file.

Every value goes through the checked reader (sync/values.py): an out-of-range value becomes a data-quality
finding on its submission and is left out of the fact, so the fold never sees it.
"""
from __future__ import annotations

import dataclasses
import datetime as dt
from typing import Any
from xml.etree.ElementTree import Element

from sync.forms import definition
from sync.instance import local, parse_instance
from sync.values import CHINA, MAX_VERSION, Reader, finding, getter, truthy

#: the cached JSON of a fact read by an older version of this module is read again from the XML (the older
#: reader did not check values); raise it whenever what read_fact makes changes
READER = 3


@dataclasses.dataclass(frozen=True)
class Fact:
    form: str
    instance_id: str
    household: str | None
    #: when the form was filled (meta end, else start, else its date question, else receipt)
    observed_at: dt.datetime
    #: the account that sent it, set by the reconciler from the submission (`as_received`); never the form's
    #: <username>, which a phone or Enketo fills in as it likes (the form's visitor stays in `record`)
    by: str | None
    #: the entity block: whether the device updated the household, from which version, in which offline branch
    entity_update: bool
    base_version: int | None
    trunk_version: int | None
    branch_id: str | None
    #: household fields this submission observes; per field the newest observation wins
    fields: dict[str, Any]
    #: the form's own record (a visit, an assessment, an income survey)
    record: dict[str, Any]
    #: member changes reported by a visit, in form order
    member_changes: list[dict[str, Any]]
    #: data-quality findings on this submission: values left out as out of range, a time moved back
    findings: list[dict[str, Any]] = dataclasses.field(default_factory=list)
    #: what the form says of its own filling, for the checks of sync/checks.py: when it was opened and finished
    #: (ISO, UTC) and the user name the phone put in it
    meta: dict[str, Any] = dataclasses.field(default_factory=dict)

    def to_json(self) -> dict[str, Any]:
        # the values are plain JSON already: a shallow copy is enough (dataclasses.asdict deep-copies, slowly)
        return {field.name: getattr(self, field.name) for field in dataclasses.fields(self)} | {
            "observed_at": self.observed_at.isoformat(), "reader": READER}

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> "Fact":
        names = {field.name for field in dataclasses.fields(cls)} - {"observed_at"}
        return cls(**{k: v for k, v in data.items() if k in names},
                   observed_at=dt.datetime.fromisoformat(data["observed_at"]))


def cached_fact(data: dict[str, Any] | None) -> Fact | None:
    """The fact cached with a submission, or None when it must be read again: none cached, cached by an older
    reader (whose values were not checked), or not readable as a fact."""
    if not isinstance(data, dict) or data.get("reader") != READER:
        return None
    try:
        return Fact.from_json(data)
    except (KeyError, TypeError, ValueError):
        return None


def as_received(fact: Fact, by: str | None, received_at: dt.datetime, clock_skew: dt.timedelta) -> Fact:
    """The fact as the reconciler uses it: attributed to the account that sent it, and observed no later than it
    arrived (plus the clock skew a phone may have). A form dated in the future would otherwise win every field
    over every genuine visit until that date; it is moved back to its arrival, with a finding."""
    latest = received_at.astimezone(dt.timezone.utc) + clock_skew
    if fact.observed_at <= latest:
        return dataclasses.replace(fact, by=by)
    moved = finding("observed_in_future", fact.instance_id,
                    f"提交 {fact.instance_id} 的填表时间 {fact.observed_at.isoformat()} 晚于收到时间，按收到时间计",
                    f"Submission {fact.instance_id} says it was filled at {fact.observed_at.isoformat()}, after "
                    "it arrived; it counts as filled when it arrived",
                    claimed=fact.observed_at.isoformat(), counted=latest.isoformat())
    return dataclasses.replace(fact, by=by, observed_at=latest, findings=[*fact.findings, moved])


def unreadable_finding(instance_id: str, error: str) -> dict[str, Any]:
    """A submission whose XML could not be made into a fact: left out of the record, and said so there."""
    return finding("submission_unreadable", instance_id, f"提交 {instance_id} 无法读取，未计入档案（{error}）",
                   f"Submission {instance_id} could not be read and is left out of the record ({error})",
                   error=error)


def read_fact(xml: bytes, received_at: dt.datetime) -> Fact:
    parsed = parse_instance(xml, stored=True)
    root = parsed.root
    # a day's grace for dates: a date is a day in China, and the phone's clock may be a little ahead
    latest_day = received_at.astimezone(CHINA).date() + dt.timedelta(days=1)
    values = getter(root)
    # meta and the entity block are every form's; the form's own questions only as its module declares them
    read = Reader(values, parsed.instance_id, latest_day)
    form = definition(parsed.xml_form_id)
    fields, record, changes = ({}, {}, [])
    if form is not None:
        fields, record, changes = form.read(Reader(values, parsed.instance_id, latest_day, form.paths | form.former_paths,
                                                   read.findings), root)
    entity = _entity(root)
    start, end = read.stamp("start"), read.stamp("end")
    return Fact(
        form=parsed.xml_form_id, instance_id=parsed.instance_id, household=parsed.household_number,
        observed_at=_observed_at(read, end or start, form.date_question if form else None, received_at), by=None,
        entity_update=truthy(entity.get("update")) if entity else False,
        base_version=read.integer("meta/entity@baseVersion", 0, MAX_VERSION, entity.get("baseVersion"))
        if entity else None,
        trunk_version=read.integer("meta/entity@trunkVersion", 0, MAX_VERSION, entity.get("trunkVersion"))
        if entity else None,
        branch_id=(read.text("meta/entity@branchId", entity.get("branchId"), 100) or None) if entity else None,
        fields=fields, record=record, member_changes=changes, findings=read.findings,
        meta={"start": start and start.isoformat(), "end": end and end.isoformat(),
              "username": read.text("username", limit=100) or None},
    )


def _entity(root: Element) -> dict[str, str] | None:
    meta = next((c for c in root if local(c.tag) == "meta"), None)
    entity = next((c for c in meta if local(c.tag) == "entity"), None) if meta is not None else None
    return dict(entity.attrib) if entity is not None else None


def _observed_at(read: Reader, stamp: dt.datetime | None, date_question: str | None,
                 received_at: dt.datetime) -> dt.datetime:
    if stamp is not None:
        return stamp
    day = read.date(date_question) if date_question else None
    if day is not None:
        return dt.datetime.combine(dt.date.fromisoformat(day), dt.time(12), CHINA).astimezone(dt.timezone.utc)
    return received_at.astimezone(dt.timezone.utc)
