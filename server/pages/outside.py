"""新发现户 (应纳尽纳): the reports of households outside the roster in the caller's areas, by state, area and reason,
and one report with its values, findings, photo and the decision form for those who may decide (supervisors of its
area, admins): 纳入 registers it on the roster, 不纳入 keeps it with the reason. Another area's report answers 404."""
from __future__ import annotations

from typing import Any

from flask import Blueprint, flash, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_babel import lazy_gettext
from sqlalchemy import select

from server.audit import record
from server.db import utcnow
from server.i18n import current_lang
from server.models import VISIT_ROLES, User
from server.pages.common import REFUSED, choice_arg, current_principal, on_page, page, page_number
from server.readmodels import resolve_area
from server.runtime import db
from sync.forms.report import FORM_ID, REASONS
from sync.idcard import mask
from sync.outside_reports import DECIDERS, STATES, ReportRow, area_cadres, decide, find_report, list_reports
from sync.review import area_choices
from sync.rules import MONITORING_TYPES

bp = Blueprint("outside", __name__, url_prefix="/outside")
PER_PAGE = 50
STATE_LABELS = {"undecided": lazy_gettext("待决定"), "registered": lazy_gettext("已纳入"),
                "declined": lazy_gettext("不纳入")}


def _reason_label(code: str) -> str:
    text = REASONS.get(code)
    return text(current_lang()) if text else code


def _finding_text(finding: dict[str, Any]) -> str:
    return finding.get("en" if current_lang() == "en" else "zh") or finding.get("code", "")


def report_view(row: ReportRow) -> dict[str, Any]:
    report, values = row.report, row.report.values
    reasons = [_reason_label(r) for r in report.reasons]
    if values.get("reasons_other"):
        reasons.append(values["reasons_other"])
    photo = (values.get("photos") or {}).get("photo_house")
    decision = row.decision
    return {
        "id": report.id, "state": row.state, "state_label": STATE_LABELS[row.state], "head": report.head_name,
        "id_number": mask(values.get("id_number") or ""), "village": row.village,
        "village_code": values.get("village_code") or "", "village_name": values.get("village_name") or "",
        "reporter": row.reporter, "reported_at": report.reported_at, "date": values.get("date"),
        "reasons": (", " if current_lang() == "en" else "、").join(reasons), "phone": values.get("phone"), "size": values.get("household_size"),
        "description": values.get("description"), "income": values.get("income_per_capita"),
        "gps": values.get("gps"), "findings": [_finding_text(f) for f in report.findings],
        "duplicate": row.duplicate, "suggested_type": row.suggested_type,
        "photo": url_for("api.submission_attachment", xml_form_id=FORM_ID, instance_id=report.instance_id,
                         filename=photo) if photo else None,
        "url": url_for("outside.report_page", report_id=report.id),
        "decision": None if decision is None else {
            "label": STATE_LABELS[row.state], "type": decision.monitoring_type, "cadre": decision.cadre,
            "reason": decision.reason, "by": decision.by_name, "at": decision.at,
            "household": decision.household_number},
    }


@bp.get("/")
@page(*VISIT_ROLES)
def list_page():
    principal = current_principal()
    filters = {"area": request.args.get("area", ""), "state": choice_arg("state", STATES),
               "reason": choice_arg("reason", REASONS)}
    number = page_number()
    result = list_reports(db(), principal.scope, state=filters["state"],
                          area=resolve_area(db(), principal.scope, filters["area"] or None),
                          reason=filters["reason"], limit=PER_PAGE, offset=(number - 1) * PER_PAGE)
    return render_template("outside/list.html", rows=[report_view(row) for row in result.items], filters=filters,
                           total=result.total,
                           pages={"number": number, "count": max(1, -(-result.total // PER_PAGE)),
                                  "total": result.total},
                           areas=area_choices(db(), principal.scope, ("town", "village")),
                           states=[(code, STATE_LABELS[code]) for code in STATES],
                           reasons=[(code, _reason_label(code)) for code in REASONS])


@bp.get("/<int:report_id>")
@page(*VISIT_ROLES)
def report_page(report_id: int):
    principal = current_principal()
    row = find_report(db(), principal.scope, report_id)
    may_decide = row.decision is None and principal.user.role in DECIDERS
    cadres = area_cadres(db(), row.report.village_id) if may_decide and row.report.village_id else []
    return render_template("outside/report.html", r=report_view(row), may_decide=may_decide,
                           may_register=may_decide and row.report.village_id is not None and not any(
                               f["code"] in ("id_number_invalid", "head_name_missing") for f in row.report.findings),
                           types=MONITORING_TYPES, cadres=cadres, reporter=_reporter_username(row))


def _reporter_username(row: ReportRow) -> str | None:
    return db().scalar(select(User.username).where(User.id == row.report.reporter_id))


@bp.post("/<int:report_id>/decision")
@page(*VISIT_ROLES)
def decision_page(report_id: int):
    principal = current_principal()
    row = find_report(db(), principal.scope, report_id)
    form = request.form
    back = redirect(url_for("outside.report_page", report_id=report_id))
    made = on_page(lambda: decide(db(), row, principal.user, form.get("decision", ""),
                                  monitoring_type=form.get("monitoring_type") or None,
                                  cadre=form.get("cadre") or None, reason=form.get("reason"), now=utcnow()))
    if made is REFUSED:
        return back
    record(db(), "outside.decision", f"outside_report:{report_id}",
           {"decision": made.decision, "household": made.household_number, "reason": made.reason})
    db().commit()
    flash(_("已纳入，户编号 %(number)s。", number=made.household_number) if made.household_number
          else _("已决定不纳入。"), "ok")
    return back
