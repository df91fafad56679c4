"""Households outside the roster (应纳尽纳): the reports cadres send with the 新发现户报告 form, listed with filters, one
report, and the decision a supervisor of its area (or an admin) makes on it once: 纳入 (register: a new household
on the roster) or 不纳入 (decline, with a reason). Everything in the caller's areas; another area's report is 404."""
from __future__ import annotations

from flask import jsonify, request, url_for
from marshmallow import Schema, fields, validate

from server.api import bp
from server.api.common import load
from server.api.openapi import documented, page_of
from server.api.schemas import PageQuerySchema
from server.audit import record
from server.auth import require_api_user
from server.db import utcnow
from server.models import VISIT_ROLES
from server.readmodels import resolve_area
from server.runtime import db
from sync.forms.report import FORM_ID, REASONS
from sync.idcard import mask
from sync.outside_reports import STATES, decide, find_report, list_reports
from sync.rules import MONITORING_TYPES


class OutsideQuerySchema(PageQuerySchema):
    #: undecided, registered or declined
    state = fields.String(validate=validate.OneOf(STATES))
    #: a reason's code (near_line, illness, disability, schooling, disaster, accident, dropout, dangerous_house,
    #: other)
    reason = fields.String(validate=validate.OneOf(list(REASONS)))


class OutsideDecisionSchema(Schema):
    #: register (纳入) or decline (不纳入)
    decision = fields.String(required=True, validate=validate.OneOf(["register", "decline"]))
    #: register: 边缘易致贫户, 突发严重困难户 or 脱贫不稳定户 (default: the one the reasons suggest)
    monitoring_type = fields.String(validate=validate.OneOf(MONITORING_TYPES))
    #: register: the user name of the 帮扶责任人, an account of the village (default: the reporter)
    cadre = fields.String(validate=validate.Length(max=64))
    #: decline: why (required); register: an optional note
    reason = fields.String(validate=validate.Length(max=2000))


class DecisionSchema(Schema):
    decision = fields.String()
    monitoring_type = fields.String(allow_none=True)
    #: register: the household it created
    household = fields.String(attribute="household_number", allow_none=True)
    cadre = fields.String(allow_none=True)
    reason = fields.String(allow_none=True)
    by = fields.String(attribute="by_name")
    at = fields.DateTime()


def _photo_url(row) -> str | None:
    name = (row.report.values.get("photos") or {}).get("photo_house")
    if not name:
        return None
    return url_for("api.submission_attachment", xml_form_id=FORM_ID, instance_id=row.report.instance_id,
                   filename=name)


class OutsideReportSchema(Schema):
    id = fields.Integer(attribute="report.id")
    instance_id = fields.String(attribute="report.instance_id")
    state = fields.String(metadata={"enum": list(STATES)})
    reported_at = fields.DateTime(attribute="report.reported_at")
    #: the account that sent it
    reporter = fields.String(allow_none=True)
    head_name = fields.String(attribute="report.head_name")
    #: masked, as on every page
    id_number = fields.Function(lambda row: mask(row.report.values.get("id_number") or ""))
    village_code = fields.Function(lambda row: row.report.values.get("village_code"))
    #: the village's name, when the code is a village inside the reporter's areas
    village = fields.String(allow_none=True)
    reasons = fields.List(fields.String(), attribute="report.reasons")
    reasons_zh = fields.Function(lambda row: [REASONS[r].zh for r in row.report.reasons if r in REASONS])
    #: values that cannot be used: [{"code", "zh", "en"}]
    findings = fields.List(fields.Dict(), attribute="report.findings")
    #: the registered household a member of which has the head's ID number (a possible duplicate)
    duplicate_household = fields.String(attribute="duplicate", allow_none=True)
    #: the subtype the reasons suggest for a registration
    suggested_type = fields.String()
    decision = fields.Nested(DecisionSchema, allow_none=True)


class OutsideReportDetailSchema(OutsideReportSchema):
    phone = fields.Function(lambda row: row.report.values.get("phone"))
    household_size = fields.Function(lambda row: row.report.values.get("household_size"))
    description = fields.Function(lambda row: row.report.values.get("description"))
    reasons_other = fields.Function(lambda row: row.report.values.get("reasons_other"))
    income_per_capita = fields.Function(lambda row: row.report.values.get("income_per_capita"))
    report_date = fields.Function(lambda row: row.report.values.get("date"))
    gps = fields.Function(lambda row: row.report.values.get("gps"))
    photo_url = fields.Function(_photo_url)


@bp.get("/outside-reports")
@documented(query=OutsideQuerySchema, response=page_of(OutsideReportSchema))
def list_outside_reports():
    """Reports of households outside the roster (新发现户报告, 应纳尽纳) in the caller's areas, newest first

    Filters: state (undecided, registered, declined), area (a code: that area and below), reason."""
    principal = require_api_user(*VISIT_ROLES)
    args = load(OutsideQuerySchema(), request.args)
    page = list_reports(db(), principal.scope, state=args.get("state"),
                        area=resolve_area(db(), principal.scope, args.get("area")), reason=args.get("reason"),
                        limit=args["limit"], offset=args["offset"])
    return jsonify({"total": page.total, "items": OutsideReportSchema(many=True).dump(page.items)})


@bp.get("/outside-reports/<int:report_id>")
@documented(response=OutsideReportDetailSchema)
def get_outside_report(report_id: int):
    """One report of a household outside the roster, with its findings and its decision"""
    principal = require_api_user(*VISIT_ROLES)
    return jsonify(OutsideReportDetailSchema().dump(find_report(db(), principal.scope, report_id)))


@bp.post("/outside-reports/<int:report_id>/decision")
@documented(body=OutsideDecisionSchema, response=OutsideReportDetailSchema)
def decide_outside_report(report_id: int):
    """Decide on a report (supervisors of its area, admins), once: register it (纳入: a new household on the
    roster, 监测户 of the chosen subtype, with its own number) or decline it (不纳入, with a reason)"""
    principal = require_api_user(*VISIT_ROLES)
    row = find_report(db(), principal.scope, report_id)
    body = load(OutsideDecisionSchema(), request.get_json(silent=True) or {})
    made = decide(db(), row, principal.user, body["decision"], monitoring_type=body.get("monitoring_type"),
                  cadre=body.get("cadre"), reason=body.get("reason"), now=utcnow())
    record(db(), "outside.decision", f"outside_report:{report_id}",
           {"decision": made.decision, "household": made.household_number, "reason": made.reason})
    db().commit()
    return get_outside_report(report_id)
