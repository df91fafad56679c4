"""Monitoring cases (防止返贫监测, 监测对象): the list with its filters and counts per state, one case with its evidence,
measures and the conditions of 风险消除, and the decisions (纳入, 不纳入, 风险消除) and measures people enter.
Everything in the caller's areas; another area's case answers 404, a cadre's decision 403."""
from __future__ import annotations

from flask import jsonify, request
from marshmallow import Schema, fields, validate

from server.api import bp
from server.api.common import load
from server.api.exports import _download
from server.api.openapi import documented
from server.api.schemas import PageQuerySchema
from server.audit import record
from server.db import utcnow
from server.auth import require_api_user
from server.exports.monitoring import monitoring_csv
from server.models import VISIT_ROLES
from server.readmodels import resolve_area
from server.runtime import db, runtime
from sync.monitoring import DISMISS, INCLUDE, MEASURE, REMOVE, RISKS, STATES, SUBTYPES, as_of
from sync.monitoring_cases import (MAX_TEXT, MEASURE_CODES, check_may_act, enter_decision, find_case, list_cases,
                                   state_counts)
from sync.renovation_ledger import china_today


class MonitoringQuerySchema(PageQuerySchema):
    state = fields.String(validate=validate.OneOf(list(STATES)))
    #: 脱贫不稳定户, 边缘易致贫户 or 突发严重困难户: the decided subtype, else the suggested one
    subtype = fields.String(validate=validate.OneOf(list(SUBTYPES)))
    #: a risk type: decided, else suggested for a proposal
    risk = fields.String(validate=validate.OneOf(list(RISKS)))


class MonitoringExportQuerySchema(MonitoringQuerySchema):
    class Meta:
        exclude = ("limit", "offset")


class MonitoringCaseSchema(Schema):
    key = fields.String(attribute="case.key")
    household = fields.String()
    head_name = fields.String()
    village = fields.String()
    #: the roster's status (已脱贫, 监测户, 一般户…)
    status = fields.String()
    state = fields.String(attribute="case.state", metadata={"enum": list(STATES)})
    state_zh = fields.Function(lambda row: STATES[row.case.state][0])
    proposed_at = fields.DateTime(attribute="case.proposed_at")
    #: the submission that proposed it
    source_instance_id = fields.String(attribute="case.source_instance_id")
    suggested_subtype = fields.String(attribute="case.suggested_subtype")
    suggested_risks = fields.List(fields.String(), attribute="case.suggested_risks")
    #: decided at 纳入; null before
    subtype = fields.String(attribute="case.subtype", allow_none=True)
    risks = fields.List(fields.String(), attribute="case.risks")
    identified_at = fields.DateTime(attribute="case.identified_at", allow_none=True)
    identified_by = fields.String(attribute="case.identified_by", allow_none=True)
    ended_at = fields.DateTime(attribute="case.ended_at", allow_none=True)
    ended_by = fields.String(attribute="case.ended_by", allow_none=True)
    #: the latest decision's reason
    reason = fields.String(attribute="case.reason", allow_none=True)
    measure_count = fields.Function(lambda row: len(row.case.measures))


class MonitoringDetailSchema(MonitoringCaseSchema):
    #: what triggered it: [{"at", "instance_id", "form", "by", "flags", "problems", "risks", ...}]
    evidence = fields.List(fields.Dict(), attribute="case.evidence")
    #: from visits (source submission, with instance_id) and by hand (source entry, with decision_id)
    measures = fields.List(fields.Dict(), attribute="case.measures")
    #: 风险消除's conditions (rules.toml [monitoring]) while the case is under way: [{"code", "met", "zh", "en",
    #: "details"}]
    conditions = fields.Function(lambda row: as_of(row.case.conditions, china_today(utcnow())))
    #: every step, oldest first
    history = fields.List(fields.Dict(), attribute="case.history")


class MonitoringPageSchema(Schema):
    total = fields.Integer()
    #: cases per state with the filters other than state
    counts = fields.Dict(keys=fields.String(), values=fields.Integer())
    items = fields.List(fields.Nested(MonitoringCaseSchema))


class MonitoringDecisionSchema(Schema):
    #: include (纳入), dismiss (不纳入) or remove (风险消除)
    kind = fields.String(required=True, validate=validate.OneOf([INCLUDE, DISMISS, REMOVE]))
    #: the reason
    text = fields.String(required=True, validate=validate.Length(min=1, max=MAX_TEXT))
    #: include: the subtype
    subtype = fields.String(validate=validate.OneOf(list(SUBTYPES)))
    #: include: the risk types
    risks = fields.List(fields.String(validate=validate.OneOf(list(RISKS))))


class MonitoringMeasureSchema(Schema):
    #: the measure taken, in the person's words
    text = fields.String(required=True, validate=validate.Length(min=1, max=MAX_TEXT))
    #: its kinds (the visit form's help codes)
    codes = fields.List(fields.String(validate=validate.OneOf(list(MEASURE_CODES))))


@bp.get("/monitoring")
@documented(query=MonitoringQuerySchema, response=MonitoringPageSchema)
def list_monitoring():
    """Monitoring cases (防止返贫监测) in the caller's areas, newest proposal first, with counts per state

    Filters: area (a code: that area and below), state, subtype, risk."""
    principal = require_api_user(*VISIT_ROLES)
    args = load(MonitoringQuerySchema(), request.args)
    area = resolve_area(db(), principal.scope, args.get("area"))
    page = list_cases(db(), principal.scope, area=area, state=args.get("state"), subtype=args.get("subtype"),
                      risk=args.get("risk"), limit=args["limit"], offset=args["offset"])
    counts = state_counts(db(), principal.scope, area=area, subtype=args.get("subtype"), risk=args.get("risk"))
    return jsonify({"total": page.total, "counts": counts,
                    "items": MonitoringCaseSchema(many=True).dump(page.items)})


@bp.get("/exports/monitoring.csv")
@documented(query=MonitoringExportQuerySchema, media_type="text/csv")
def export_monitoring():
    """The monitoring cases (防止返贫监测台账) as CSV (UTF-8 with a BOM), with the list's filters"""
    principal = require_api_user(*VISIT_ROLES)
    args = load(MonitoringExportQuerySchema(), request.args)
    area = resolve_area(db(), principal.scope, args.get("area"))
    filters = {"area": area, "state": args.get("state"), "subtype": args.get("subtype"), "risk": args.get("risk")}
    scope = principal.scope
    suffix = f"_{area.code}" if area else ""
    return _download(lambda session: monitoring_csv(session, scope, filters), "防返贫监测台账" + suffix,
                     "monitoring" + suffix, "csv")


@bp.get("/monitoring/<key>")
@documented(response=MonitoringDetailSchema)
def get_monitoring_case(key: str):
    """One monitoring case with its evidence, measures, the conditions of 风险消除 and its history"""
    principal = require_api_user(*VISIT_ROLES)
    return jsonify(MonitoringDetailSchema().dump(find_case(db(), principal.scope, key)))


@bp.post("/monitoring/<key>/decisions")
@documented(body=MonitoringDecisionSchema, response=MonitoringDetailSchema)
def decide_monitoring_case(key: str):
    """Decide on a case (a supervisor of its area, or an admin): 纳入 a proposal with its subtype and risk types,
    不纳入 it with a reason, or 风险消除 a case under way

    Steps out of order answer 409; 风险消除 with a condition unmet answers 409 naming the unmet conditions; a subtype
    that does not fit the household (an exited household is never 边缘易致贫户) answers 400."""
    principal = require_api_user(*VISIT_ROLES)
    check_may_act(principal.user, find_case(db(), principal.scope, key).case, "decision")
    body = load(MonitoringDecisionSchema(), request.get_json(silent=True) or {})
    value = {"subtype": body.get("subtype"), "risks": body.get("risks") or []} if body["kind"] == INCLUDE else {}
    enter_decision(db(), key, body["kind"], value, body["text"], principal.user, runtime().queue.options())
    record(db(), "monitoring.decision", f"monitoring:{key}", {"kind": body["kind"], **value, "text": body["text"]})
    db().commit()
    return get_monitoring_case(key)


@bp.post("/monitoring/<key>/measures")
@documented(body=MonitoringMeasureSchema, response=MonitoringDetailSchema)
def add_monitoring_measure(key: str):
    """Enter a measure (帮扶措施) on a case under way: the household's paired cadre, a supervisor or an admin"""
    principal = require_api_user(*VISIT_ROLES)
    check_may_act(principal.user, find_case(db(), principal.scope, key).case, MEASURE)
    body = load(MonitoringMeasureSchema(), request.get_json(silent=True) or {})
    value = {"codes": body.get("codes") or []}
    enter_decision(db(), key, MEASURE, value, body["text"], principal.user, runtime().queue.options())
    record(db(), "monitoring.measure", f"monitoring:{key}", {**value, "text": body["text"]})
    db().commit()
    return get_monitoring_case(key)
