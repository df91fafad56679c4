"""What a submission says, read once from its XML into plain values: the reconciler's input.

Pure: XML bytes (and the received time, as a last resort for the observation time) in, a `Fact` out. The
field paths are those of the bundled forms (forms/README.md). A form the reconciler does not know still
yields a Fact (household, time, entity block) so that it appears in the household's file.
"""
from __future__ import annotations

import dataclasses
import datetime as dt
from typing import Any
from xml.etree.ElementTree import Element

from sync.instance import local, parse_instance

CHINA = dt.timezone(dt.timedelta(hours=8))
VISIT, ASSESSMENT, INCOME = "household_visit", "housing_assessment", "income_survey"
YES_NO_FIELDS = ("food_secure", "clothing_secure", "education_secure", "medical_secure")
WATER_INDICATORS = ("water_quantity", "water_quality", "water_convenience", "water_reliability")
INCOME_PARTS = ("income/wage_income", "income/business_gross", "income/business_cost", "income/property_income",
                "transfer/dibao", "transfer/pension", "transfer/subsidies", "transfer/dividends",
                "transfer/other_transfer")
SPENDING_PARTS = ("spending/spend_medical", "spending/spend_education", "spending/spend_disaster")


@dataclasses.dataclass(frozen=True)
class Fact:
    form: str
    instance_id: str
    household: str | None
    #: when the form was filled (meta end, else start, else its date question, else receipt)
    observed_at: dt.datetime
    #: who filled it, as the form says (Collect's user name or the visitor question)
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

    def to_json(self) -> dict[str, Any]:
        # the values are plain JSON already: a shallow copy is enough (dataclasses.asdict deep-copies, slowly)
        return {field.name: getattr(self, field.name) for field in dataclasses.fields(self)} | {
            "observed_at": self.observed_at.isoformat()}

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> "Fact":
        return cls(**{**data, "observed_at": dt.datetime.fromisoformat(data["observed_at"])})


def read_fact(xml: bytes, received_at: dt.datetime) -> Fact:
    parsed = parse_instance(xml, stored=True)
    root = parsed.root
    get = _getter(root)
    entity = _entity(root)
    form = parsed.xml_form_id
    extract = {VISIT: _visit, ASSESSMENT: _assessment, INCOME: _income}.get(form)
    fields, record, changes = extract(get, root) if extract else ({}, {}, [])
    date_question = {VISIT: "visit_date", ASSESSMENT: "assess_date", INCOME: "survey_date"}.get(form)
    return Fact(
        form=form, instance_id=parsed.instance_id, household=parsed.household_number,
        observed_at=_observed_at(get, date_question, received_at),
        by=get("username") or get("visitor") or get("assessor") or get("surveyor"),
        entity_update=_truthy(entity.get("update")) if entity else False,
        base_version=_int(entity.get("baseVersion")) if entity else None,
        trunk_version=_int(entity.get("trunkVersion")) if entity else None,
        branch_id=(entity.get("branchId") or None) if entity else None,
        fields=fields, record=record, member_changes=changes,
    )


def _getter(root: Element):
    """Values by relative path ("two_assurances/food_secure"), indexed in one walk; the first of repeats wins."""
    values: dict[str, str] = {}

    def index(element: Element, prefix: str) -> None:
        for child in element:
            path = prefix + local(child.tag)
            if len(child):
                index(child, path + "/")
            elif path not in values:
                text = (child.text or "").strip()
                if text:
                    values[path] = text
    index(root, "")
    return values.get


def _entity(root: Element) -> dict[str, str] | None:
    meta = next((c for c in root if local(c.tag) == "meta"), None)
    entity = next((c for c in meta if local(c.tag) == "entity"), None) if meta is not None else None
    return dict(entity.attrib) if entity is not None else None


def _observed_at(get, date_question: str | None, received_at: dt.datetime) -> dt.datetime:
    for name in ("end", "start"):
        stamp = _datetime(get(name))
        if stamp is not None:
            return stamp
    day = _date(get(date_question)) if date_question else None
    if day is not None:
        return dt.datetime.combine(day, dt.time(12), CHINA).astimezone(dt.timezone.utc)
    return received_at.astimezone(dt.timezone.utc)


def _datetime(value: str | None) -> dt.datetime | None:
    if not value:
        return None
    try:
        stamp = dt.datetime.fromisoformat(value)
    except ValueError:
        return None
    if stamp.tzinfo is None:
        stamp = stamp.replace(tzinfo=CHINA)  # Collect always sends an offset; a bare time is local
    return stamp.astimezone(dt.timezone.utc)


def _date(value: str | None) -> dt.date | None:
    try:
        return dt.date.fromisoformat(value[:10]) if value else None
    except ValueError:
        return None


def _int(value: str | None) -> int | None:
    try:
        return int(value) if value not in (None, "") else None
    except ValueError:
        return None


def _number(value: str | None) -> float | None:
    try:
        return round(float(value), 2) if value not in (None, "") else None
    except ValueError:
        return None


def _truthy(value: str | None) -> bool:
    return (value or "").strip().lower() in ("1", "true")


def _gps(value: str | None) -> dict[str, float] | None:
    parts = (value or "").split()
    if len(parts) < 2:
        return None
    try:
        numbers = [float(p) for p in parts]
    except ValueError:
        return None
    return {"latitude": numbers[0], "longitude": numbers[1],
            "altitude": numbers[2] if len(numbers) > 2 else None,
            "accuracy": numbers[3] if len(numbers) > 3 else None}


def _set(fields: dict[str, Any], name: str, value: Any) -> None:
    if value not in (None, ""):
        fields[name] = value


def _visit(get, root: Element):
    fields: dict[str, Any] = {}
    visit_date = get("visit_date")
    _set(fields, "last_visit", visit_date)
    for name in YES_NO_FIELDS:
        _set(fields, name, get(f"two_assurances/{name}"))
    _set(fields, "housing_grade", get("two_assurances/housing_grade"))
    _set(fields, "housing_safe", get("two_assurances/house_safe"))
    _set(fields, "water_safe", get("water/water_safe"))
    for name in WATER_INDICATORS:
        _set(fields, name, get(f"water/{name}"))
    _set(fields, "housing_sign_present", get("signs/housing_sign_present"))
    _set(fields, "water_sign_present", get("signs/water_sign_present"))
    record = {
        "date": visit_date, "visitor": get("visitor"), "gps": _gps(get("gps")),
        "photos": {"family": get("photo_family"), "housing_sign": get("signs/photo_housing_sign"),
                   "water_sign": get("signs/photo_water_sign")},
        "children_6_15": _int(get("two_assurances/children_6_15")),
        "out_of_school": _int(get("two_assurances/out_of_school")),
        "all_insured": get("two_assurances/all_insured"),
        "not_insured_count": _int(get("two_assurances/not_insured_count")),
        "problems": (get("findings/problems") or "").split(),
        "problems_note": " ".join(filter(None, (get("findings/problems_other"), get("findings/problems_note")))),
        "help_given": get("findings/help_given"), "remarks": get("remarks"),
    }
    changes = []
    for element in root:
        if local(element.tag) != "member_change":
            continue
        item = _getter(element)
        change = {"type": item("change_type"), "name": item("person_name"), "relation": item("relation"),
                  "date": item("change_date"), "id_number": (item("id_number") or "").upper() or None}
        if change["type"]:
            changes.append(change)
    return fields, record, changes


def _assessment(get, _root: Element):
    fields: dict[str, Any] = {}
    assess_date = get("assess_date")
    _set(fields, "housing_assessed", assess_date)
    _set(fields, "housing_grade", get("grade"))
    _set(fields, "housing_safe", get("housing_safe"))
    grade = get("grade")
    if grade:
        # an A/B assessment clears the renovation state: "" is an observed value here
        fields["renovation_state"] = get("renovation_saved") or ""
    record = {
        "date": assess_date, "assessor": get("assessor"), "grade": grade, "gps": _gps(get("gps")),
        "structure": get("structure_other") or get("structure"),
        "parts": {p: get(f"parts/{p}") for p in ("foundation", "walls", "roof", "load_bearing")},
        "renovation_mode": get("renovation/renovation_mode_other") or get("renovation/renovation_mode"),
        "renovation_state": get("renovation/renovation_state"), "notes": get("notes"),
        "photos": {p: get(f"photos/{p}") for p in ("photo_house", "photo_house_2", "photo_damage", "photo_sign")},
    }
    return fields, record, []


def _income(get, _root: Element):
    parts = {path.split("/")[1]: _number(get(path)) or 0.0 for path in INCOME_PARTS}
    spending = {path.split("/")[1]: _number(get(path)) or 0.0 for path in SPENDING_PARTS}
    record = {
        "date": get("survey_date"), "surveyor": get("surveyor"), "year": _int(get("survey_year")),
        "household_size": _int(get("household_size")), "size_note": get("size_note"), "parts": parts,
        "spending": spending, "reported_total_net": _number(get("total_net")),
        "reported_per_capita": _number(get("per_capita")), "gps": _gps(get("gps")), "notes": get("notes"),
    }
    return {}, record, []
