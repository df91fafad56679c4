"""Problem cases (问题清单): the list with its filters, one case with its history, a supervisor's sign-off (销号) and
a measure entered by hand. Everything in the caller's areas; another area's case answers 404."""
from __future__ import annotations

from flask import jsonify, request
from marshmallow import Schema, fields, validate

from server.api import bp
from server.api.common import load
from server.api.exports import _download
from server.api.openapi import documented, page_of
from server.api.schemas import PageQuerySchema
from server.audit import record_case_decision
from server.auth import require_api_user
from server.errors import Problem
from server.exports.cases import cases_csv
from server.models import VISIT_ROLES
from server.readmodels import resolve_area
from server.runtime import db, runtime
from sync.case_lists import (MAX_TEXT, SIGNERS, STATE_FILTERS, add_case_measure, find_case, list_cases,
                             may_add_measure, sign_off_case)
from sync.case_models import CASE_STATES
from sync.cases import KINDS

#: the oldest a case may be asked for, in days (a century: any larger is a mistake, and overflows dates)
MAX_AGE_DAYS = 36_500


class CaseQuerySchema(PageQuerySchema):
    kind = fields.String(validate=validate.OneOf(list(KINDS)))
    #: open (open or reopened), done (closed or signed off), or one state
    state = fields.String(validate=validate.OneOf(list(STATE_FILTERS)))
    #: at least this many days since the case (re)opened
    age = fields.Integer(validate=validate.Range(min=0, max=MAX_AGE_DAYS))
    #: the assigned cadre's user name
    cadre = fields.String(validate=validate.Length(max=64))


class CaseExportQuerySchema(CaseQuerySchema):
    class Meta:
        exclude = ("limit", "offset")


class CaseStepSchema(Schema):
    at = fields.String()
    #: opened, measure, closed, signed_off, reopened
    event = fields.String()
    instance_id = fields.String()
    decision_id = fields.Integer()
    by = fields.String(allow_none=True)
    #: a sign-off's reason or a measure entered by hand
    text = fields.String()
    #: a visit's help given: {"codes", "other", "note"}
    help = fields.Dict()
    #: what the observation said of the problem (water indicators, grade, names…)
    details = fields.Dict()


class CaseSchema(Schema):
    key = fields.String(attribute="case.key")
    household = fields.String()
    head_name = fields.String()
    village = fields.String()
    kind = fields.String(attribute="case.kind")
    kind_zh = fields.Function(lambda row: KINDS[row.case.kind][0])
    kind_en = fields.Function(lambda row: KINDS[row.case.kind][1])
    subject = fields.String(attribute="case.subject")
    state = fields.String(attribute="case.state", metadata={"enum": list(CASE_STATES)})
    opened_at = fields.DateTime(attribute="case.opened_at")
    source_instance_id = fields.String(attribute="case.source_instance_id")
    closed_at = fields.DateTime(attribute="case.closed_at", allow_none=True)
    closing_instance_id = fields.String(attribute="case.closing_instance_id", allow_none=True)
    closing_decision_id = fields.Integer(attribute="case.closing_decision_id", allow_none=True)
    cadre = fields.String(attribute="case.cadre", allow_none=True)
    last_measure_at = fields.DateTime(attribute="case.last_measure_at", allow_none=True)


class CaseDetailSchema(CaseSchema):
    history = fields.List(fields.Nested(CaseStepSchema), attribute="case.history")


class SignOffSchema(Schema):
    reason = fields.String(required=True, validate=validate.Length(min=1, max=MAX_TEXT))


class MeasureSchema(Schema):
    text = fields.String(required=True, validate=validate.Length(min=1, max=MAX_TEXT))


@bp.get("/cases")
@documented(query=CaseQuerySchema, response=page_of(CaseSchema))
def list_cases_api():
    """Problem cases (问题清单) in the caller's areas, oldest first

    Filters: area (a code: that area and below), kind, state (open, done, reopened, closed, signed_off), age (days
    at least since it opened), cadre."""
    principal = require_api_user(*VISIT_ROLES)
    args = load(CaseQuerySchema(), request.args)
    page = list_cases(db(), principal.scope, area=resolve_area(db(), principal.scope, args.get("area")),
                      kind=args.get("kind"), state=args.get("state"), min_age_days=args.get("age"),
                      cadre=args.get("cadre"), limit=args["limit"], offset=args["offset"])
    return jsonify({"total": page.total, "items": CaseSchema(many=True).dump(page.items)})


@bp.get("/exports/cases.csv")
@documented(query=CaseExportQuerySchema, media_type="text/csv")
def export_cases():
    """The problem cases (问题清单) as CSV (UTF-8 with a BOM), with the list's filters"""
    principal = require_api_user(*VISIT_ROLES)
    args = load(CaseExportQuerySchema(), request.args)
    area = resolve_area(db(), principal.scope, args.get("area"))
    filters = {"area": area, "kind": args.get("kind"), "state": args.get("state"), "min_age_days": args.get("age"),
               "cadre": args.get("cadre")}
    scope = principal.scope
    suffix = "_".join(p for p in (area.code if area else "", args.get("kind") or "") if p)
    return _download(lambda session: cases_csv(session, scope, filters), "问题清单" + (f"_{suffix}" if suffix else ""),
                     "cases" + (f"_{suffix}" if suffix else ""), "csv")


@bp.get("/cases/<key>")
@documented(response=CaseDetailSchema)
def get_case(key: str):
    """One case with its history: opened, measures, closed or signed off, reopened"""
    principal = require_api_user(*VISIT_ROLES)
    return jsonify(CaseDetailSchema().dump(find_case(db(), principal.scope, key)))


@bp.post("/cases/<key>/sign-off")
@documented(body=SignOffSchema, response=CaseDetailSchema)
def sign_off(key: str):
    """Sign an open case off (销号) with a reason (admins, supervisors)

    It stays signed off until a later visit or assessment observes the problem again."""
    principal = require_api_user(*SIGNERS)
    body = load(SignOffSchema(), request.get_json(silent=True) or {})
    row = find_case(db(), principal.scope, key)
    kind = row.case.kind
    sign_off_case(db(), row.case, body["reason"], principal.user, runtime().queue.options())
    record_case_decision(db(), "case.sign_off", key, row.household, kind, body["reason"].strip())
    db().commit()
    return get_case(key)


@bp.post("/cases/<key>/measures")
@documented(body=MeasureSchema, response=CaseDetailSchema)
def add_measure(key: str):
    """Record a measure taken on an open case (the household's cadre, supervisors, admins)"""
    principal = require_api_user(*VISIT_ROLES)
    body = load(MeasureSchema(), request.get_json(silent=True) or {})
    row = find_case(db(), principal.scope, key)
    if not may_add_measure(principal.user, row.case):
        raise Problem(403, "case.not_your_household", "只有该户的帮扶责任人、审核人员或管理员可以记录措施。",
                      "Only the household's cadre, a supervisor or an admin may record a measure.")
    kind = row.case.kind
    add_case_measure(db(), row.case, body["text"], principal.user, runtime().queue.options())
    record_case_decision(db(), "case.measure", key, row.household, kind, body["text"].strip())
    db().commit()
    return get_case(key)
