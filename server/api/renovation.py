"""The renovation ledger (危房改造台账): the list with its filters, one household's row with its history and photos by
stage, the facts people enter (a payment to the 一卡通 by finance staff or an admin; mode, floor area, priority groups,
deadline, a stage seen by a supervisor or an admin), and a village's 公示 list. Everything in the caller's areas;
another area's house answers 404."""
from __future__ import annotations

from flask import jsonify, request, url_for
from marshmallow import Schema, fields, validate

from server.api import bp
from server.api.common import load
from server.api.exports import _download
from server.api.openapi import documented, page_of
from server.api.schemas import PageQuerySchema
from server.audit import record
from server.auth import require_api_user
from server.db import utcnow
from server.exports.renovation import renovation_csv
from server.readmodels import resolve_area
from server.runtime import db, runtime
from sync.renovation import ENTRY_KINDS, GROUPS, MODES, STAGES, overdue
from sync.renovation_ledger import (MAX_FLOOR_AREA, MAX_PAYMENT, china_today, enter_renovation_fact, find_renovation,
                                    list_renovations, may_enter, may_enter_any, not_allowed,
                                    publicity_list)


class RenovationQuerySchema(PageQuerySchema):
    grade = fields.String(validate=validate.OneOf(["C", "D"]))
    mode = fields.String(validate=validate.OneOf(list(MODES)))
    stage = fields.String(validate=validate.OneOf(list(STAGES)))
    #: only the unfinished houses past their deadline
    overdue = fields.Boolean()
    #: only the houses with subsidy left to pay to the 一卡通
    unpaid = fields.Boolean()


class RenovationExportQuerySchema(RenovationQuerySchema):
    class Meta:
        exclude = ("limit", "offset")


class RenovationPhotoSchema(Schema):
    #: the stage the assessment saw when it took the photo
    stage = fields.String()
    instance_id = fields.String()
    #: the assessment form's photo question, e.g. photo_house
    role = fields.String()
    file = fields.String()
    on = fields.String()
    url = fields.Function(lambda photo: url_for("api.submission_attachment", xml_form_id="housing_assessment",
                                                instance_id=photo["instance_id"], filename=photo["file"]))


class RenovationSchema(Schema):
    household = fields.String()
    head_name = fields.String()
    village = fields.String()
    grade = fields.String(attribute="renovation.grade")
    #: the assessment that set the grade
    assessment_instance_id = fields.String(attribute="renovation.assessment_instance_id")
    graded_on = fields.Date(attribute="renovation.graded_on")
    stage = fields.String(attribute="renovation.stage", metadata={"enum": list(STAGES)})
    stage_zh = fields.Function(lambda row: STAGES[row.renovation.stage][0])
    mode = fields.String(attribute="renovation.mode", allow_none=True)
    #: the assessor's own words when the mode is "other"
    mode_other = fields.String(attribute="renovation.mode_other", allow_none=True)
    mode_source = fields.String(attribute="renovation.mode_source", allow_none=True)
    #: 四类重点对象 (建档立卡户 registered, 低保户 dibao, 分散供养特困人员 destitute, 贫困残疾人家庭 disabled)
    groups = fields.List(fields.String(), attribute="renovation.groups")
    groups_source = fields.String(attribute="renovation.groups_source")
    floor_area = fields.Float(attribute="renovation.floor_area", allow_none=True)
    subsidy = fields.Float(attribute="renovation.subsidy", allow_none=True)
    subsidy_year = fields.Integer(attribute="renovation.subsidy_year")
    paid_amount = fields.Float(attribute="renovation.paid_amount")
    paid_on = fields.Date(attribute="renovation.paid_on", allow_none=True)
    started_on = fields.Date(attribute="renovation.started_on", allow_none=True)
    finished_on = fields.Date(attribute="renovation.finished_on", allow_none=True)
    moved_in_on = fields.Date(attribute="renovation.moved_in_on", allow_none=True)
    old_dealt_on = fields.Date(attribute="renovation.old_dealt_on", allow_none=True)
    deadline = fields.Date(attribute="renovation.deadline", allow_none=True)
    deadline_source = fields.String(attribute="renovation.deadline_source", allow_none=True)
    overdue = fields.Function(lambda row: overdue(row.renovation.stage, row.renovation.deadline,
                                                  china_today(utcnow())))
    regraded = fields.Dict(attribute="renovation.regraded", allow_none=True)


class RenovationDetailSchema(RenovationSchema):
    photos = fields.List(fields.Nested(RenovationPhotoSchema), attribute="renovation.photos")
    #: every step, oldest first: assessed or visited (with its instance_id and the stage seen), or an entry
    #: (payment, mode…, with entry_id, by)
    history = fields.List(fields.Dict(), attribute="renovation.history")
    #: what set each stage's date (building, finished, moved_in, old_dealt): {"form", "instance_id", "on"} for an
    #: assessment or a visit, {"entry_id", "by", "on"} for an entry
    stage_sources = fields.Function(lambda row: row.renovation.stage_sources or {},
                                    metadata={"type": "object"})


class RenovationEntrySchema(Schema):
    kind = fields.String(required=True, validate=validate.OneOf(ENTRY_KINDS))
    #: payment: yuan paid to the household's 一卡通
    amount = fields.Float(validate=validate.Range(min=0, max=MAX_PAYMENT, min_inclusive=False))
    #: payment: the day paid; stage: the day seen; deadline: the day
    on = fields.Date()
    #: stage: the next stage (building, finished, moved_in, old_dealt)
    stage = fields.String(validate=validate.OneOf(list(STAGES)))
    mode = fields.String(validate=validate.OneOf(list(MODES)))
    #: floor_area: m²
    m2 = fields.Float(validate=validate.Range(min=0, max=MAX_FLOOR_AREA, min_inclusive=False))
    groups = fields.List(fields.String(validate=validate.OneOf(list(GROUPS))))


class PublicityQuerySchema(Schema):
    #: the village's code
    village = fields.String(required=True)


class PublicityItemSchema(Schema):
    """What a 公示 list publishes: no ID number."""
    name = fields.String(attribute="head_name")
    village = fields.String()
    grade = fields.String(attribute="renovation.grade")
    mode = fields.String(attribute="renovation.mode", allow_none=True)
    mode_zh = fields.Function(lambda row: MODES.get(row.renovation.mode, (row.renovation.mode,))[0])
    subsidy = fields.Float(attribute="renovation.subsidy", allow_none=True)


@bp.get("/renovation")
@documented(query=RenovationQuerySchema, response=page_of(RenovationSchema))
def list_renovation():
    """The renovation ledger (危房改造台账) in the caller's areas, by deadline

    Filters: area (a code: that area and below), grade, mode, stage, overdue, unpaid (subsidy left to pay)."""
    principal = require_api_user()
    args = load(RenovationQuerySchema(), request.args)
    page = list_renovations(db(), principal.scope, today=china_today(utcnow()),
                            area=resolve_area(db(), principal.scope, args.get("area")), grade=args.get("grade"),
                            mode=args.get("mode"), stage=args.get("stage"), overdue=args.get("overdue", False),
                            unpaid=args.get("unpaid", False), limit=args["limit"], offset=args["offset"])
    return jsonify({"total": page.total, "items": RenovationSchema(many=True).dump(page.items)})


@bp.get("/exports/renovation.csv")
@documented(query=RenovationExportQuerySchema, media_type="text/csv")
def export_renovation():
    """The renovation ledger (危房改造台账) as CSV (UTF-8 with a BOM), with the list's filters"""
    principal = require_api_user()
    args = load(RenovationExportQuerySchema(), request.args)
    area = resolve_area(db(), principal.scope, args.get("area"))
    filters = {"today": china_today(utcnow()), "area": area, "grade": args.get("grade"), "mode": args.get("mode"),
               "stage": args.get("stage"), "overdue": args.get("overdue", False),
               "unpaid": args.get("unpaid", False)}
    scope = principal.scope
    suffix = f"_{area.code}" if area else ""
    return _download(lambda session: renovation_csv(session, scope, filters), "危房改造台账" + suffix,
                     "renovation" + suffix, "csv")


@bp.get("/renovation/publicity")
@documented(query=PublicityQuerySchema, response={"type": "array", "items": PublicityItemSchema})
def renovation_publicity():
    """A village's 公示 list: name, village, grade, mode, subsidy of each C/D house (no ID numbers)"""
    principal = require_api_user()
    args = load(PublicityQuerySchema(), request.args)
    village = resolve_area(db(), principal.scope, args["village"])
    return jsonify(PublicityItemSchema(many=True).dump(publicity_list(db(), principal.scope, village)))


@bp.get("/renovation/<number>")
@documented(response=RenovationDetailSchema)
def get_renovation(number: str):
    """One household's ledger row, with its history and its photos by stage"""
    principal = require_api_user()
    return jsonify(RenovationDetailSchema().dump(find_renovation(db(), principal.scope, number)))


@bp.post("/renovation/<number>/entries")
@documented(body=RenovationEntrySchema, response=RenovationDetailSchema)
def enter_renovation(number: str):
    """Enter a fact on a household's ledger: a payment to the 一卡通 (finance staff, admins), or the mode, floor
    area, priority groups, deadline, the next stage seen (supervisors, admins)

    Stages are entered in order; a payment may not exceed the subsidy left. Each entry keeps who and when. A cadre
    may enter nothing; finance staff only payments, supervisors everything but payments (403)."""
    principal = require_api_user()
    row = find_renovation(db(), principal.scope, number)
    if not may_enter_any(principal.user.role):
        raise not_allowed("")
    body = load(RenovationEntrySchema(), request.get_json(silent=True) or {})
    kind = body.pop("kind")
    if not may_enter(principal.user.role, kind):
        raise not_allowed(kind)
    enter_renovation_fact(db(), row.renovation, kind, body, principal.user, runtime().queue.options())
    record(db(), "renovation.entry", f"household:{number}",
           {"kind": kind, **{k: v.isoformat() if hasattr(v, "isoformat") else v for k, v in body.items()}})
    db().commit()
    return get_renovation(number)
