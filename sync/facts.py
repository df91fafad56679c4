"""What a submission says, read once from its XML into plain values: the reconciler's input.

Pure: XML bytes (and the received time, as a last resort for the observation time) in, a `Fact` out. The
field paths are those of the bundled forms (forms/README.md). A form the reconciler does not know still
yields a Fact (household, time, entity block) so that it appears in the household's file.

This is the boundary where the phone's text becomes values, so every value is checked here: a GPS point off
the globe, a number that is not finite or beyond any household's means, a date that is not a date of this
programme, a time that cannot be put in UTC. Collect's constraints do not protect the server (Enketo, scripts,
an old form version), and one such value used to stop its household's record for good. An out-of-range value
becomes a data-quality finding on its submission and is left out of the fact, so the fold never sees it.
"""
from __future__ import annotations

import dataclasses
import datetime as dt
import math
from typing import Any, Callable
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
#: the cached JSON of a fact read by an older version of this module is read again from the XML (the older
#: reader did not check values); raise it whenever what read_fact makes changes
READER = 2
# the bundled forms' choice lists (forms/xlsforms) for the values the record keeps as household fields
YES_NO = ("yes", "no")
GRADES = ("A", "B", "C", "D")
RENOVATION_CODES = ("planned", "building", "finished", "moved_in", "old_dealt")
PROBLEMS = ("none", "food", "clothing", "education", "medical", "housing", "water", "signs", "income", "illness",
            "disaster", "employment", "policy", "other")
CHANGE_TYPES = ("birth", "death", "marriage_in", "marriage_out", "moved_out", "moved_in")
#: free text longer than this is cut: a form's notes are a few sentences, and the record is stored per household
MAX_TEXT = 2000
#: counts of people (the forms allow up to 20; more is a typing error, not a household)
MAX_COUNT = 100
#: yuan in one income or spending item (the form allows under ten million)
MAX_YUAN = 100_000_000.0
#: entity versions are stored in 32-bit integer columns
MAX_VERSION = 2**31 - 1
#: no form of this programme is about a day before this one
EARLIEST = dt.date(1900, 1, 1)


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
    finding = _finding("observed_in_future", fact.instance_id,
                       f"提交 {fact.instance_id} 的填表时间 {fact.observed_at.isoformat()} 晚于收到时间，按收到时间计",
                       f"Submission {fact.instance_id} says it was filled at {fact.observed_at.isoformat()}, after "
                       "it arrived; it counts as filled when it arrived",
                       claimed=fact.observed_at.isoformat(), counted=latest.isoformat())
    return dataclasses.replace(fact, by=by, observed_at=latest, findings=[*fact.findings, finding])


def unreadable_finding(instance_id: str, error: str) -> dict[str, Any]:
    """A submission whose XML could not be made into a fact: left out of the record, and said so there."""
    return _finding("submission_unreadable", instance_id, f"提交 {instance_id} 无法读取，未计入档案（{error}）",
                    f"Submission {instance_id} could not be read and is left out of the record ({error})",
                    error=error)


def _finding(code: str, instance_id: str, zh: str, en: str, **details) -> dict[str, Any]:
    return {"code": code, "message_zh": zh, "message_en": en, "details": {"instance_id": instance_id, **details}}


def read_fact(xml: bytes, received_at: dt.datetime) -> Fact:
    parsed = parse_instance(xml, stored=True)
    root = parsed.root
    # a day's grace for dates: a date is a day in China, and the phone's clock may be a little ahead
    latest_day = received_at.astimezone(CHINA).date() + dt.timedelta(days=1)
    read = _Reader(_getter(root), parsed.instance_id, latest_day)
    entity = _entity(root)
    form = parsed.xml_form_id
    extract = {VISIT: _visit, ASSESSMENT: _assessment, INCOME: _income}.get(form)
    fields, record, changes = extract(read, root) if extract else ({}, {}, [])
    date_question = {VISIT: "visit_date", ASSESSMENT: "assess_date", INCOME: "survey_date"}.get(form)
    return Fact(
        form=form, instance_id=parsed.instance_id, household=parsed.household_number,
        observed_at=_observed_at(read, date_question, received_at), by=None,
        entity_update=_truthy(entity.get("update")) if entity else False,
        base_version=read.integer("meta/entity@baseVersion", 0, MAX_VERSION, entity.get("baseVersion"))
        if entity else None,
        trunk_version=read.integer("meta/entity@trunkVersion", 0, MAX_VERSION, entity.get("trunkVersion"))
        if entity else None,
        branch_id=(read.text("meta/entity@branchId", entity.get("branchId"), 100) or None) if entity else None,
        fields=fields, record=record, member_changes=changes, findings=read.findings,
    )


class _Reader:
    """Typed values of one submission by path; a value out of its range is noted as a finding and read as None."""

    def __init__(self, get: Callable[[str], str | None], instance_id: str, latest_day: dt.date,
                 findings: list[dict[str, Any]] | None = None, prefix: str = ""):
        self.get = get
        self.instance_id = instance_id
        self.latest_day = latest_day
        self.findings: list[dict[str, Any]] = [] if findings is None else findings
        self.prefix = prefix

    def within(self, element: Element, prefix: str) -> "_Reader":
        """The values of a repeat's item, whose findings are the submission's."""
        return _Reader(_getter(element), self.instance_id, self.latest_day, self.findings, prefix)

    def ignore(self, path: str, value: str, why_zh: str, why_en: str, cut: bool = False) -> None:
        path = self.prefix + path
        shown = value if len(value) <= 40 else value[:40] + "…"
        self.findings.append(_finding(
            "value_out_of_range", self.instance_id,
            f"提交 {self.instance_id} 的“{path}”值“{shown}”{why_zh}，{'已截断' if cut else '已忽略'}",
            f"Submission {self.instance_id}: the value '{shown}' of '{path}' {why_en}, and is "
            f"{'cut' if cut else 'ignored'}", field=path, value=shown))

    def text(self, path: str, value: str | None = None, limit: int = MAX_TEXT) -> str | None:
        value = self.get(path) if value is None else value
        if value and len(value) > limit:
            self.ignore(path, value, f"超过 {limit} 个字符", f"is longer than {limit} characters", cut=True)
            value = value[:limit]
        return value

    def choice(self, path: str, allowed: tuple[str, ...]) -> str | None:
        value = self.get(path)
        if value is not None and value not in allowed:
            self.ignore(path, value, "不是表单的选项", "is not one of the form's choices")
            return None
        return value

    def choices(self, path: str, allowed: tuple[str, ...]) -> list[str]:
        chosen = []
        for value in (self.get(path) or "").split():
            if value in allowed:
                chosen.append(value)
            else:
                self.ignore(path, value, "不是表单的选项", "is not one of the form's choices")
        return chosen

    def integer(self, path: str, low: int, high: int, value: str | None = None) -> int | None:
        return self._ranged(path, self.get(path) if value is None else value, _int, low, high, "整数", "whole number")

    def number(self, path: str, low: float, high: float) -> float | None:
        return self._ranged(path, self.get(path), _number, low, high, "数", "number")

    def _ranged(self, path: str, value: str | None, parse, low, high, kind_zh: str, kind_en: str):
        if value in (None, ""):
            return None
        number = parse(value)
        if number is None or not low <= number <= high:
            self.ignore(path, value, f"不是 {low:g} 到 {high:g} 之间的{kind_zh}",
                        f"is not a {kind_en} from {low:g} to {high:g}")
            return None
        return number

    def date(self, path: str, value: str | None = None) -> str | None:
        """An ISO date (the form's own text, so that records keep what the phone said) between 1900 and the day
        after the submission arrived."""
        value = self.get(path) if value is None else value
        if not value:
            return None
        day = _date(value)
        if day is None or not EARLIEST <= day <= self.latest_day:
            self.ignore(path, value, "不是有效日期，或晚于收到日期", "is not a date, or is after the day it arrived")
            return None
        return day.isoformat()

    def stamp(self, path: str) -> dt.datetime | None:
        value = self.get(path)
        if not value:
            return None
        stamp = _datetime(value)
        if stamp is None or stamp.date() < EARLIEST:
            self.ignore(path, value, "不是可换算的时间", "is not a time that can be put in UTC")
            return None
        return stamp

    def gps(self, path: str) -> dict[str, float | None] | None:
        value = self.get(path)
        parts = (value or "").split()
        if not parts:
            return None
        numbers = [_finite(p) for p in parts[:4]]
        if len(parts) < 2 or numbers[0] is None or numbers[1] is None \
                or not (-90 <= numbers[0] <= 90 and -180 <= numbers[1] <= 180):
            self.ignore(path, value, "不是地球上的位置", "is not a point on the globe")
            return None
        altitude = numbers[2] if len(numbers) > 2 else None
        accuracy = numbers[3] if len(numbers) > 3 else None
        if (len(numbers) > 2 and altitude is None) or (len(numbers) > 3 and (accuracy is None or accuracy < 0)):
            self.ignore(path, value, "的高度或精度无效", "has an invalid altitude or accuracy")
            accuracy = accuracy if accuracy is not None and accuracy >= 0 else None
        return {"latitude": numbers[0], "longitude": numbers[1], "altitude": altitude, "accuracy": accuracy}


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


def _observed_at(read: _Reader, date_question: str | None, received_at: dt.datetime) -> dt.datetime:
    for name in ("end", "start"):
        stamp = read.stamp(name)
        if stamp is not None:
            return stamp
    day = read.date(date_question) if date_question else None
    if day is not None:
        return dt.datetime.combine(dt.date.fromisoformat(day), dt.time(12), CHINA).astimezone(dt.timezone.utc)
    return received_at.astimezone(dt.timezone.utc)


def _datetime(value: str | None) -> dt.datetime | None:
    if not value:
        return None
    try:
        stamp = dt.datetime.fromisoformat(value)
        if stamp.tzinfo is None:
            stamp = stamp.replace(tzinfo=CHINA)  # Collect always sends an offset; a bare time is local
        # 9999-12-31T23:00-10:00 is a valid ISO time whose UTC is in the year 10000
        return stamp.astimezone(dt.timezone.utc)
    except (ValueError, OverflowError):
        return None


def _date(value: str | None) -> dt.date | None:
    try:
        return dt.date.fromisoformat(value[:10]) if value else None
    except ValueError:
        return None


def _int(value: str | None) -> int | None:
    try:
        # Python refuses to turn more than 4300 digits into an int (ValueError), so no text is too long here
        return int(value) if value not in (None, "") else None
    except ValueError:
        return None


def _finite(value: str) -> float | None:
    try:
        number = float(value)
    except ValueError:
        return None
    return number if math.isfinite(number) else None


def _number(value: str | None) -> float | None:
    number = _finite(value) if value not in (None, "") else None
    return round(number, 2) if number is not None else None


def _truthy(value: str | None) -> bool:
    return (value or "").strip().lower() in ("1", "true")


def _set(fields: dict[str, Any], name: str, value: Any) -> None:
    if value not in (None, ""):
        fields[name] = value


def _visit(read: _Reader, root: Element):
    fields: dict[str, Any] = {}
    visit_date = read.date("visit_date")
    _set(fields, "last_visit", visit_date)
    for name in YES_NO_FIELDS:
        _set(fields, name, read.choice(f"two_assurances/{name}", YES_NO))
    _set(fields, "housing_grade", read.choice("two_assurances/housing_grade", GRADES))
    _set(fields, "housing_safe", read.choice("two_assurances/house_safe", YES_NO))
    _set(fields, "water_safe", read.choice("water/water_safe", YES_NO))
    for name in WATER_INDICATORS:
        _set(fields, name, read.choice(f"water/{name}", YES_NO))
    _set(fields, "housing_sign_present", read.choice("signs/housing_sign_present", YES_NO))
    _set(fields, "water_sign_present", read.choice("signs/water_sign_present", YES_NO))
    record = {
        "date": visit_date, "visitor": read.text("visitor"), "gps": read.gps("gps"),
        "photos": {"family": read.text("photo_family"), "housing_sign": read.text("signs/photo_housing_sign"),
                   "water_sign": read.text("signs/photo_water_sign")},
        "children_6_15": read.integer("two_assurances/children_6_15", 0, MAX_COUNT),
        "out_of_school": read.integer("two_assurances/out_of_school", 0, MAX_COUNT),
        "all_insured": read.choice("two_assurances/all_insured", YES_NO),
        "not_insured_count": read.integer("two_assurances/not_insured_count", 0, MAX_COUNT),
        "problems": read.choices("findings/problems", PROBLEMS),
        "problems_note": " ".join(filter(None, (read.text("findings/problems_other"),
                                                read.text("findings/problems_note")))),
        "help_given": read.text("findings/help_given"), "remarks": read.text("remarks"),
    }
    changes = []
    for element in root:
        if local(element.tag) != "member_change":
            continue
        item = read.within(element, "member_change/")
        change = {"type": item.choice("change_type", CHANGE_TYPES), "name": item.text("person_name", limit=100),
                  "relation": item.text("relation", limit=100), "date": item.date("change_date"),
                  "id_number": (item.text("id_number", limit=18) or "").upper() or None}
        if change["type"]:
            changes.append(change)
    return fields, record, changes


def _assessment(read: _Reader, _root: Element):
    fields: dict[str, Any] = {}
    assess_date = read.date("assess_date")
    _set(fields, "housing_assessed", assess_date)
    grade = read.choice("grade", GRADES)
    _set(fields, "housing_grade", grade)
    _set(fields, "housing_safe", read.choice("housing_safe", YES_NO))
    saved = read.choice("renovation_saved", RENOVATION_CODES)
    if grade:
        # an A/B assessment clears the renovation state: "" is an observed value here
        fields["renovation_state"] = saved or ""
    record = {
        "date": assess_date, "assessor": read.text("assessor"), "grade": grade, "gps": read.gps("gps"),
        "structure": read.text("structure_other") or read.text("structure"),
        "parts": {p: read.text(f"parts/{p}") for p in ("foundation", "walls", "roof", "load_bearing")},
        "renovation_mode": read.text("renovation/renovation_mode_other") or read.text("renovation/renovation_mode"),
        "renovation_state": read.choice("renovation/renovation_state", RENOVATION_CODES), "notes": read.text("notes"),
        "photos": {p: read.text(f"photos/{p}") for p in ("photo_house", "photo_house_2", "photo_damage",
                                                         "photo_sign")},
    }
    return fields, record, []


def _income(read: _Reader, _root: Element):
    parts = {path.split("/")[1]: read.number(path, 0, MAX_YUAN) or 0.0 for path in INCOME_PARTS}
    spending = {path.split("/")[1]: read.number(path, 0, MAX_YUAN) or 0.0 for path in SPENDING_PARTS}
    # the totals are the form's own calculations, and a business may run at a loss
    total_bound = MAX_YUAN * len(INCOME_PARTS)
    record = {
        "date": read.date("survey_date"), "surveyor": read.text("surveyor"),
        "year": read.integer("survey_year", EARLIEST.year, 2100),
        "household_size": read.integer("household_size", 1, MAX_COUNT), "size_note": read.text("size_note"),
        "parts": parts, "spending": spending,
        "reported_total_net": read.number("total_net", -total_bound, total_bound),
        "reported_per_capita": read.number("per_capita", -total_bound, total_bound), "gps": read.gps("gps"),
        "notes": read.text("notes"),
    }
    return {}, record, []
