"""防止返贫监测: the monitoring cases of the caller's areas by state, subtype, risk type and area, with the counts per
state; one case with its evidence, measures, the conditions of 风险消除 and its history, and the forms of those who
may act on it (纳入 / 不纳入 / 风险消除: a supervisor or an admin; a measure: also the household's paired cadre). The
household file shows its cases with `monitoring_section`. Everything in the caller's areas; another area's case
answers 404."""
from __future__ import annotations

from typing import Any

from flask import Blueprint, flash, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_babel import lazy_gettext

from server.audit import record
from server.db import utcnow
from server.errors import Problem
from server.i18n import current_lang
from server.models import VISIT_ROLES
from server.pages.common import REFUSED, choice_arg, current_principal, on_page, page, page_number
from server.pages.renovation import _label as _pair  # the ledgers' label helper
from server.readmodels import resolve_area
from server.runtime import db, runtime
from sync.monitoring import DISMISS, INCLUDE, MEASURE, REMOVE, RISKS, STATES, SUBTYPES, as_of
from sync.monitoring_cases import (MEASURE_CODES, check_may_act, enter_decision, find_case, household_cases,
                                   list_cases, may_add_measure, may_decide, state_counts)
from sync.monitoring_models import MonitoringCase
from sync.renovation_ledger import china_today
from sync.review import area_choices

bp = Blueprint("monitoring", __name__, url_prefix="/monitoring")
PER_PAGE = 50
#: what triggered a case, by the reconciler's flag (sync/rules.py) or the visit's problem code
TRIGGER_LABELS = {
    "income_drop": lazy_gettext("收入骤减"), "spending_jump": lazy_gettext("大额支出"),
    "risk_education": lazy_gettext("风险：义务教育"), "risk_medical": lazy_gettext("风险：基本医疗"),
    "risk_housing": lazy_gettext("风险：住房安全"), "risk_water": lazy_gettext("风险：饮水安全"),
    "exited_under_line": lazy_gettext("已脱贫户低于贫困标准"), "unstable_exit": lazy_gettext("脱贫不稳定"),
    "near_poor": lazy_gettext("边缘易致贫"), "screening_income": lazy_gettext("排查：收入低于复核线"),
    "screening_dibao": lazy_gettext("排查：低保金低于复核线"),
    "income": lazy_gettext("收入下降"), "illness": lazy_gettext("因病"), "disability": lazy_gettext("因残"),
    "schooling_cost": lazy_gettext("因学"), "disaster": lazy_gettext("因灾"), "employment": lazy_gettext("就业失败"),
    "unsold": lazy_gettext("产品滞销"),
}
MEASURE_LABELS = {"job": lazy_gettext("就业推荐"), "aid": lazy_gettext("申请补助/救助"),
                  "housing": lazy_gettext("联系危房改造"), "industry": lazy_gettext("产业帮扶"),
                  "policy": lazy_gettext("政策讲解"), "other": lazy_gettext("其他")}
FORM_LABELS = {"household_visit": lazy_gettext("入户走访"), "income_survey": lazy_gettext("家庭收入调查"),
               "monitoring_report": lazy_gettext("监测对象识别/帮扶")}
EVENT_LABELS = {"proposed": lazy_gettext("提议"), "evidence": lazy_gettext("新的依据"), "include": lazy_gettext("纳入"),
                "dismiss": lazy_gettext("不纳入"), "remove": lazy_gettext("风险消除"),
                "measure": lazy_gettext("帮扶措施"), "not_applied": lazy_gettext("决定未生效（案例已变化）")}


def subtype_label(subtype: str | None) -> str:
    if not subtype:
        return ""
    return SUBTYPES.get(subtype, subtype) if current_lang() == "en" else subtype


def _submission_url(number: str, item: dict[str, Any]) -> str | None:
    if not item.get("instance_id") or not item.get("form"):
        return None
    return url_for("households.submission_page", number=number, form_id=item["form"],
                   instance_id=item["instance_id"])


def case_view(case: MonitoringCase, number: str) -> dict[str, Any]:
    """A case as pages show it: labels in the page's language, evidence and measures linked to their submissions."""
    en = current_lang() == "en"
    return {
        "key": case.key, "number": number, "state": case.state, "state_label": _pair(STATES, case.state),
        "url": url_for("monitoring.case_page", key=case.key),
        "proposed_at": case.proposed_at, "subtype": case.subtype,
        "subtype_label": subtype_label(case.subtype or case.suggested_subtype),
        "subtype_decided": case.subtype is not None,
        "risks": [_pair(RISKS, r) for r in (case.risks if case.state != "proposed" else case.suggested_risks)],
        "identified_at": case.identified_at, "identified_by": case.identified_by,
        "ended_at": case.ended_at, "ended_by": case.ended_by, "reason": case.reason,
        "evidence": [{"at": item["at"], "by": item.get("by"), "form": FORM_LABELS.get(item["form"], item["form"]),
                      "url": _submission_url(number, item),
                      "triggers": [TRIGGER_LABELS.get(code, code) for code in
                                   item.get("flags", []) + item.get("problems", [])]
                      + [_pair(RISKS, r) for r in item.get("risks", []) if item["form"] == "monitoring_report"],
                      "situation": item.get("situation"), "income_estimate": item.get("income_estimate")}
                     for item in case.evidence],
        "measures": [{"at": m["at"], "by": m.get("by"), "text": m.get("text"),
                      "codes": [MEASURE_LABELS.get(c, c) for c in m.get("codes", [])],
                      "source": _("人工登记") if m["source"] == "entry" else FORM_LABELS.get(m.get("form"), ""),
                      "url": _submission_url(number, m)} for m in case.measures],
        "conditions": [{"code": c["code"], "met": c["met"], "label": c["en"] if en else c["zh"]}
                       for c in as_of(case.conditions, china_today(utcnow()))],
        "history": [{"at": step["at"], "event": EVENT_LABELS.get(step["event"], step["event"]),
                     "by": step.get("by"), "text": step.get("text")} for step in case.history],
    }


def monitoring_section(household_id: int, number: str) -> list[dict[str, Any]]:
    """The household file's monitoring cases, newest first."""
    return [case_view(case, number) for case in household_cases(db(), household_id)]


@bp.get("/")
@page(*VISIT_ROLES)
def list_page():
    principal = current_principal()
    filters = {"area": request.args.get("area", ""), "state": choice_arg("state", STATES),
               "subtype": choice_arg("subtype", SUBTYPES), "risk": choice_arg("risk", RISKS)}
    area = resolve_area(db(), principal.scope, filters["area"] or None)
    number = page_number()
    result = list_cases(db(), principal.scope, area=area, state=filters["state"], subtype=filters["subtype"],
                        risk=filters["risk"], limit=PER_PAGE, offset=(number - 1) * PER_PAGE)
    counts = state_counts(db(), principal.scope, area=area, subtype=filters["subtype"], risk=filters["risk"])
    rows = [{**case_view(row.case, row.household), "head": row.head_name, "village": row.village}
            for row in result.items]
    others = {name: value for name, value in filters.items() if value and name != "state"}
    return render_template("monitoring/list.html", rows=rows, filters=filters, total=result.total,
                           counts=[(state, _pair(STATES, state), counts[state],
                                    url_for("monitoring.list_page", state=state, **others)) for state in STATES],
                           all_url=url_for("monitoring.list_page", **others),
                           pages={"number": number, "count": max(1, -(-result.total // PER_PAGE)),
                                  "total": result.total},
                           areas=area_choices(db(), principal.scope, ("town", "village")),
                           subtypes=[(code, subtype_label(code)) for code in SUBTYPES],
                           risks=[(code, _pair(RISKS, code)) for code in RISKS],
                           states=[(code, _pair(STATES, code)) for code in STATES],
                           export_args={name: value for name, value in filters.items() if value})


@bp.get("/<key>")
@page(*VISIT_ROLES)
def case_page(key: str):
    principal = current_principal()
    row = find_case(db(), principal.scope, key)
    user = principal.user
    view = {**case_view(row.case, row.household), "head": row.head_name, "village": row.village,
            "status": row.status,
            "file_url": url_for("households.file_page", number=row.household, _anchor="monitoring")}
    return render_template("monitoring/case.html", case=view,
                           may_decide=may_decide(user.role),
                           may_measure=may_add_measure(user.role, user.username, row.case.cadre),
                           subtypes=[(code, subtype_label(code)) for code in SUBTYPES],
                           suggested_subtype=row.case.suggested_subtype,
                           suggested_risks=row.case.suggested_risks,
                           risks=[(code, _pair(RISKS, code)) for code in RISKS],
                           measure_codes=[(code, MEASURE_LABELS[code]) for code in MEASURE_CODES])


def _act(key: str, kind: str, value: dict[str, Any], text: str):
    principal = current_principal()
    back = redirect(url_for("monitoring.case_page", key=key))
    if on_page(lambda: enter_decision(db(), key, kind, value, text, principal.user,
                                      runtime().queue.options())) is REFUSED:
        return back
    action = "monitoring.measure" if kind == MEASURE else "monitoring.decision"
    record(db(), action, f"monitoring:{key}", {"kind": kind, **value, "text": text})
    db().commit()
    flash(_("已登记。"), "ok")
    return back


@bp.post("/<key>/decisions")
@page(*VISIT_ROLES)
def decision_page(key: str):
    principal = current_principal()
    check_may_act(principal.user, find_case(db(), principal.scope, key).case, "decision")
    kind = request.form.get("kind", "")
    if kind not in (INCLUDE, DISMISS, REMOVE):
        raise Problem(400, "monitoring.kind", "无法登记这一项。", "This cannot be entered.")
    value = {"subtype": request.form.get("subtype"), "risks": request.form.getlist("risks")} \
        if kind == INCLUDE else {}
    return _act(key, kind, value, request.form.get("text", ""))


@bp.post("/<key>/measures")
@page(*VISIT_ROLES)
def measure_page(key: str):
    principal = current_principal()
    check_may_act(principal.user, find_case(db(), principal.scope, key).case, MEASURE)
    return _act(key, MEASURE, {"codes": request.form.getlist("codes")}, request.form.get("text", ""))
