"""Marshmallow schemas: what the API reads and writes."""
from __future__ import annotations

import base64
import binascii
import datetime as dt

from marshmallow import Schema, ValidationError, fields, validate, validates_schema

from media.images import without_paths
from server.params import MAX_OFFSET, MONTH  # noqa: F401 (the API's name for it)
from server.readmodels import STATES
from sync.idcard import mask
from sync.review_models import REVIEW_STATES
from sync.rules import MONITORING_TYPES, SCREENING_CODES


def offset_field() -> fields.Integer:
    return fields.Integer(load_default=0, validate=validate.Range(min=0, max=MAX_OFFSET))


class SubmissionCursor(fields.String):
    """Where the next page of submissions starts: the last row's receiving time and id, opaque to the caller.
    A page read after it holds the rows older than that row whatever arrived meanwhile, where an offset would
    repeat rows as new submissions push the list down."""

    @staticmethod
    def encode(received_at: dt.datetime, submission_id: int) -> str:
        text = f"{received_at.astimezone(dt.timezone.utc).isoformat()}~{submission_id}"
        return base64.urlsafe_b64encode(text.encode()).decode().rstrip("=")

    def _deserialize(self, value, attr, data, **kwargs) -> tuple[dt.datetime, int]:
        value = super()._deserialize(value, attr, data, **kwargs)
        if len(value) > 80:
            raise ValidationError("not a cursor from this API")
        try:
            text = base64.urlsafe_b64decode(value + "=" * (-len(value) % 4)).decode()
            stamp, _, number = text.partition("~")
            received_at, submission_id = dt.datetime.fromisoformat(stamp), int(number)
        except (binascii.Error, UnicodeDecodeError, ValueError):
            raise ValidationError("not a cursor from this API") from None
        if received_at.tzinfo is None or not 0 < submission_id < 2 ** 63:
            raise ValidationError("not a cursor from this API")
        return received_at, submission_id


class FormMessageSchema(Schema):
    sheet = fields.String(allow_none=True)
    row = fields.Integer(allow_none=True)
    message_zh = fields.String()
    message_en = fields.String()


class FormAttachmentSchema(Schema):
    filename = fields.String()
    dataset = fields.String(allow_none=True)
    md5 = fields.String(allow_none=True)
    size = fields.Integer(allow_none=True)
    present = fields.Function(lambda a: bool(a.dataset or a.sha256))


class FormVersionSchema(Schema):
    version = fields.String()
    title = fields.String()
    hash = fields.Function(lambda v: f"md5:{v.xform_md5}")
    published_at = fields.DateTime()
    warnings = fields.List(fields.Nested(FormMessageSchema))
    attachments = fields.List(fields.Nested(FormAttachmentSchema))


class FormSchema(Schema):
    form_id = fields.String(attribute="xml_form_id")
    state = fields.String()
    current_version = fields.Nested(FormVersionSchema, allow_none=True)


class FormStateSchema(Schema):
    state = fields.String(required=True, validate=validate.OneOf(["open", "closing", "closed"]))


class SubmissionAttachmentSchema(Schema):
    filename = fields.String()
    state = fields.String()
    size = fields.Integer(allow_none=True)
    content_type = fields.String(allow_none=True)
    sha256 = fields.String(allow_none=True)
    #: null until the worker has checked it; "ok" or a reason such as "truncated", "type_mismatch"
    image_check = fields.String(allow_none=True)
    #: what the check read; its detail names no server path, also in a check recorded before it stopped doing so
    image_info = fields.Function(lambda a: a.image_info and {**a.image_info,
                                                            "detail": without_paths(a.image_info.get("detail"))})
    has_thumbnail = fields.Function(lambda a: a.thumb_sha256 is not None)


class SubmissionSchema(Schema):
    instance_id = fields.String()
    form_id = fields.Function(lambda s: s.form_xml_id)
    version = fields.Function(lambda s: s.form_version_string)
    deprecated_id = fields.String(allow_none=True)
    current = fields.Boolean()
    instance_name = fields.String(allow_none=True)
    household_number = fields.String(allow_none=True)
    review_state = fields.String()
    #: sent from outside the household's areas: kept out of its record unless a supervisor accepts it
    out_of_area = fields.Boolean()
    received_at = fields.DateTime()
    attachments = fields.List(fields.Nested(SubmissionAttachmentSchema))


class SubmissionQuerySchema(Schema):
    form_id = fields.String()
    household = fields.String()
    limit = fields.Integer(load_default=100, validate=validate.Range(min=1, max=1000))
    offset = offset_field()
    #: the next page: the cursor of the previous page's `Link: <…>; rel="next"` header
    after = SubmissionCursor(metadata={"description": "the cursor in the previous page's Link rel=next header"})


class PageQuerySchema(Schema):
    area = fields.String()
    limit = fields.Integer(load_default=100, validate=validate.Range(min=1, max=1000))
    offset = offset_field()


class HouseholdQuerySchema(PageQuerySchema):
    status = fields.String()
    #: the kind of 监测户: 脱贫不稳定户, 边缘易致贫户 or 突发严重困难户
    monitoring_type = fields.String(validate=validate.OneOf(MONITORING_TYPES))
    #: a monitoring flag or quality finding code, e.g. income_drop
    flag = fields.String()
    cadre = fields.String()
    #: the start of a household number or part of the head's name
    q = fields.String(validate=validate.Length(max=100))
    #: "missing": households without a known location
    location = fields.String(validate=validate.OneOf(["missing"]))
    #: YYYY-MM: adds each household's visit state that month, and allows `state`
    month = fields.String(validate=MONTH)
    state = fields.String(validate=validate.OneOf(STATES))

    @validates_schema
    def _state_needs_month(self, data, **_kwargs):
        if "state" in data and "month" not in data:
            raise ValidationError("state needs month", "state")


class HouseholdExportQuerySchema(HouseholdQuerySchema):
    """The household list's filters; an export has every matching row, so no paging."""

    #: only the households on the 排查 list, as the households page's checkbox
    screening = fields.Boolean(load_default=False)

    class Meta:
        exclude = ("limit", "offset")


class ExportQuerySchema(Schema):
    """Which rows an export holds: an area (and what is below it), a month or a range of days, a review state."""

    area = fields.String()
    #: YYYY-MM (China time): submissions received, or visits made, that month
    month = fields.String(validate=MONTH)
    #: first and last day (YYYY-MM-DD, inclusive), instead of `month`
    from_ = fields.Date(data_key="from")
    to = fields.Date()
    review_state = fields.String(validate=validate.OneOf(REVIEW_STATES))
    #: the zip export: 0 leaves the photos out
    media = fields.Boolean(load_default=True)

    @validates_schema
    def _one_period(self, data, **_kwargs):
        if "month" in data and ("from_" in data or "to" in data):
            raise ValidationError("give month, or from/to, not both", "month")
        if "from_" in data and "to" in data and data["from_"] > data["to"]:
            raise ValidationError("from is after to", "from")


class MonthlyReportQuerySchema(Schema):
    month = fields.String(required=True, validate=MONTH)
    area = fields.String()


class ConflictQuerySchema(PageQuerySchema):
    state = fields.String(load_default="open", validate=validate.OneOf(["open", "resolved", "superseded"]))


class LocationSchema(Schema):
    latitude = fields.Float(required=True, validate=validate.Range(-90, 90))
    longitude = fields.Float(required=True, validate=validate.Range(-180, 180))


class ResolveSchema(Schema):
    value = fields.Raw(required=True, allow_none=True)
    note = fields.String(validate=validate.Length(max=2000))


class FindingSchema(Schema):
    kind = fields.String()
    code = fields.String()
    message_zh = fields.String()
    message_en = fields.String()
    details = fields.Dict()


def _value(record, name):
    entry = (record.fields if record else {}).get(name)
    return entry["value"] if entry else None


class HouseholdListSchema(Schema):
    """A server.readmodels.HouseholdRow."""

    number = fields.Function(lambda i: i.household.number)
    head = fields.Function(lambda i: i.household.head_name)
    village = fields.Function(lambda i: i.area.name)
    village_code = fields.Function(lambda i: i.area.code)
    status = fields.Function(lambda i: i.household.status)
    monitoring_type = fields.Function(lambda i: i.household.monitoring_type)
    cadre = fields.Function(lambda i: i.household.cadre)
    size = fields.Function(lambda i: i.record.size if i.record else None)
    last_visit = fields.Function(lambda i: _value(i.record, "last_visit"))
    #: meets the exit standard; null when it cannot be judged (no income surveyed, or not reconciled yet)
    exit_eligible = fields.Function(lambda i: i.record.exit_eligible if i.record else None)
    open_conflicts = fields.Function(lambda i: i.record.open_conflicts if i.record else 0)
    flags = fields.Function(lambda i: [f.code for f in i.findings])
    #: the month's visit state (verified, questionable, not_visited) when the list was asked with `month`
    month_state = fields.Function(lambda i: i.state)


class ScreeningSchema(HouseholdListSchema):
    """A household of the 排查 list (seed 002) with the reasons it is on it."""

    reasons = fields.Function(lambda i: FindingSchema(many=True).dump(
        [f for f in i.findings if f.code in SCREENING_CODES]))


class ConflictSchema(Schema):
    key = fields.Function(lambda i: i["conflict"].key)
    household = fields.Function(lambda i: i["household"])
    field = fields.Function(lambda i: i["conflict"].field)
    base_version = fields.Function(lambda i: i["conflict"].base_version)
    state = fields.Function(lambda i: i["conflict"].state)
    entries = fields.Function(lambda i: i["conflict"].entries)
    current = fields.Function(lambda i: i["conflict"].current)


def _mask_id(member: dict) -> dict:
    return {**member, "id_number": mask(member.get("id_number") or "")}


class HouseholdDetailSchema(Schema):
    """Current values with their provenance (数出有源): each field says which submission set it, who, when."""

    number = fields.Function(lambda d: d["household"].number)
    head = fields.Function(lambda d: d["household"].head_name)
    village = fields.Function(lambda d: {"code": d["area"].code, "name": d["area"].name})
    status = fields.Function(lambda d: d["household"].status)
    monitoring_type = fields.Function(lambda d: d["household"].monitoring_type)
    poverty_cause = fields.Function(lambda d: d["household"].poverty_cause)
    cadre = fields.Function(lambda d: d["household"].cadre)
    phone = fields.Function(lambda d: d["household"].phone)
    location = fields.Function(lambda d: None if d["household"].latitude is None else {
        "latitude": d["household"].latitude, "longitude": d["household"].longitude})
    version = fields.Function(lambda d: d["record"].version if d["record"] else d["household"].roster_version)
    fields_ = fields.Function(lambda d: d["record"].fields if d["record"] else {}, data_key="fields")
    members = fields.Function(lambda d: [_mask_id(m) for m in (d["record"].members if d["record"] else [])])
    latest_visit = fields.Function(lambda d: d["record"].visits[-1] if d["record"] and d["record"].visits else None)
    latest_assessment = fields.Function(
        lambda d: d["record"].assessments[-1] if d["record"] and d["record"].assessments else None)
    latest_income = fields.Function(lambda d: d["record"].incomes[-1] if d["record"] and d["record"].incomes else None)
    incomes = fields.Function(lambda d: d["record"].incomes if d["record"] else [])
    #: meets the exit standard; null when it cannot be judged (no income surveyed, or not reconciled yet)
    exit_eligible = fields.Function(lambda d: d["record"].exit_eligible if d["record"] else None)
    flags = fields.Function(lambda d: FindingSchema(many=True).dump([f for f in d["findings"]
                                                                     if f.kind == "monitoring"]))
    findings = fields.Function(lambda d: FindingSchema(many=True).dump([f for f in d["findings"]
                                                                        if f.kind == "quality"]))
    conflicts = fields.Function(lambda d: [{"key": c.key, "field": c.field, "state": c.state, "entries": c.entries,
                                            "current": c.current} for c in d["conflicts"]])
    reconciled_at = fields.Function(lambda d: d["record"].updated_at.isoformat() if d["record"] else None)
