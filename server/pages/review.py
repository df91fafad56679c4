"""Review pages for supervisors and admins: submissions by review state (with a detail page to set the state and
comment), the conflict queue with the disagreeing values side by side, the data-quality list, this month's
questionable visits, and submissions sent from outside their household's areas (超出辖区) to accept or reject. Everything is limited to the caller's areas; another area's record answers 404."""
from __future__ import annotations

import datetime as dt
import json
from typing import Any

from flask import Blueprint, current_app, flash, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_babel import lazy_gettext
from sqlalchemy import select
from werkzeug.routing import BuildError

from forms.models import Form, FormVersion
from server.audit import record_area_decision, record_resolution, record_review
from server.errors import DomainError
from server.i18n import current_lang
from server.models import User
from server.pages.common import (REFUSED, current_principal, display_names, month_arg, on_page, page,
                                 page_number)
from server.pages.feedback import submission_feedback
from server.pages.submission_view import answers, visit_evidence
from server.params import month_span
from server.runtime import db, runtime
from sync.conflicts import resolve_conflict
from sync.feedback import OPEN_STATES, returned_ids, states_of
from sync.forms import field_label
from sync.forms import value_label as household_value_label
from sync.areas import area_by_code
from sync.review import (MAX_COMMENT, VERDICT_FILTERS, area_choices, decide_out_of_area, find_conflict,
                         find_submission, list_submissions, open_conflicts, out_of_area_submissions,
                         quality_report, questionable_visits, set_review, visit_reasons)
from sync.review_models import REVIEW_STATES

bp = Blueprint("review", __name__, url_prefix="/review")
PER_PAGE = 50
REVIEWERS = ("admin", "supervisor")

STATE_LABELS = {
    "received": lazy_gettext("已接收"),
    "has_issues": lazy_gettext("有问题"),
    "approved": lazy_gettext("已通过"),
    "rejected": lazy_gettext("未通过"),
}
VERDICT_LABELS = {
    "verified": lazy_gettext("已核实"),
    "questionable": lazy_gettext("存疑"),
    "no_evidence": lazy_gettext("无佐证"),
    # the filter's choice for submissions without a verdict: other forms, or a visit not judged yet
    "none": lazy_gettext("无（非走访或尚未核查）"),
}
# sync/evidence.py reason codes, for a visit whose record does not carry the worded reasons
REASON_LABELS = {
    "no_evidence": lazy_gettext("没有定位也没有照片"),
    "no_gps": lazy_gettext("没有户门口定位"),
    "gps_inaccurate": lazy_gettext("定位精度不够"),
    "no_household_location": lazy_gettext("该户没有确认的位置，无法核对距离"),
    "gps_far": lazy_gettext("走访定位离该户太远"),
    "photo_missing": lazy_gettext("缺少照片"),
    "photo_invalid": lazy_gettext("照片不是有效的图片"),
    "photo_time_mismatch": lazy_gettext("照片拍摄时间与填表时间不符"),
    "photo_gps_mismatch": lazy_gettext("照片拍摄位置离走访定位太远"),
}
UNATTACHED_LABELS = {
    "unknown_household": lazy_gettext("户编号不在名单中"),
    "no_household": lazy_gettext("未填写户编号"),
}
# values any field may hold; a household field's own codes are labelled by its form's module (sync/forms)
VALUE_LABELS = {"yes": lazy_gettext("是"), "no": lazy_gettext("否"), "na": lazy_gettext("不适用"),
                "": lazy_gettext("（空）")}


@bp.context_processor
def _helpers() -> dict[str, Any]:
    return {"household_link": household_link, "state_labels": STATE_LABELS,
            "field_label": lambda name: field_label(name, current_lang()), "value_label": value_label,
            "verdict_labels": VERDICT_LABELS}


def household_link(number: str | None) -> str | None:
    """The household file's URL once that page exists (households.file_page), else None: the number is then text."""
    if not number or "households.file_page" not in current_app.view_functions:
        return None
    try:
        return url_for("households.file_page", number=number)
    except BuildError:
        return None


def value_label(value: Any, field: str | None = None) -> str:
    named = household_value_label(field, value, current_lang()) if field else None
    if named is not None:
        return named
    if value is None:
        return str(VALUE_LABELS[""])
    if isinstance(value, str):
        return str(VALUE_LABELS[value]) if value in VALUE_LABELS else value
    return json.dumps(value, ensure_ascii=False)


def _area_arg():
    code = request.args.get("area") or None
    return area_by_code(db(), code) if code else None


def _user_names(ids) -> dict[int, str]:
    wanted = {i for i in ids if i is not None}
    if not wanted:
        return {}
    return {u.id: u.display_name or u.username for u in db().scalars(select(User).where(User.id.in_(wanted)))}


def _pages(total: int, number: int) -> dict[str, int]:
    return {"number": number, "count": max(1, -(-total // PER_PAGE)), "total": total}


# ---- submissions -------------------------------------------------------------------------------------------

@bp.get("/")
@page(*REVIEWERS)
def index():
    """Submissions, newest first: when filled, the household (number and head), the sender, the visit's evidence
    verdict with its reasons and the review state; filtered by form, state, verdict, area, month of arrival."""
    principal = current_principal()
    state = request.args.get("state") or None
    if state not in REVIEW_STATES:
        state = None
    verdict = request.args.get("verdict") or None
    if verdict not in VERDICT_FILTERS:
        verdict = None
    month = month_arg() if request.args.get("month") else None
    form = request.args.get("form") or None
    household = (request.args.get("household") or "").strip() or None
    # 待整改 / 已答复: the returned submissions in that feedback state, current or since edited (sync/feedback.py)
    feedback = request.args.get("feedback") or None
    if feedback not in OPEN_STATES:
        feedback = None
    number = page_number()
    result = list_submissions(db(), principal.scope, state=state, form=form, area=_area_arg(), household=household,
                              verdict=verdict, received=month_span(month) if month else None,
                              among=returned_ids(principal.scope, (feedback,)) if feedback else None,
                              limit=PER_PAGE, offset=(number - 1) * PER_PAGE)
    skew = dt.timedelta(seconds=runtime().settings.clock_skew_seconds)
    rows = [(row, row.filled_at(skew)) for row in result.items]
    submitters = _user_names(row.submission.submitter_id for row in result.items)
    details = visit_reasons(db(), [row.household_id for row in result.items
                                   if row.reasons and row.household_id is not None])
    forms = db().execute(select(Form.xml_form_id, FormVersion.title)
                         .outerjoin(FormVersion, Form.current_version_id == FormVersion.id)
                         .order_by(Form.xml_form_id)).all()
    feedback_states = states_of(db(), [row.submission.id for row in result.items])
    return render_template("review/submissions.html", rows=rows, total=result.total, feedback_states=feedback_states,
                           pages=_pages(result.total, number), submitters=submitters, details=details,
                           reason_labels=REASON_LABELS, forms=forms, areas=area_choices(db(), principal.scope),
                           verdicts=VERDICT_FILTERS,
                           filters={"state": state or "", "form": form or "", "area": request.args.get("area", ""),
                                    "household": household or "", "verdict": verdict or "", "month": month or "",
                                    "feedback": feedback or ""})


@bp.route("/submissions/<xml_form_id>/<instance_id>", methods=["GET", "POST"])
@page(*REVIEWERS)
def submission(xml_form_id: str, instance_id: str):
    principal = current_principal()
    found, form_id, title, version = find_submission(db(), principal.scope, xml_form_id, instance_id)
    error = None
    if request.method == "POST":
        state = request.form.get("state") or None
        before = found.review_state
        try:
            step = set_review(db(), found, state, request.form.get("comment"), principal.user)
        except DomainError as refused:
            if refused.kind != "invalid":
                raise
            db().rollback()
            error = refused.message(current_lang())
        else:
            record_review(db(), form_id, instance_id, before, step)
            db().commit()
            flash(_("已保存审核结果。") if step is not None else _("没有变化。"), "ok")
            return redirect(url_for("review.submission", xml_form_id=form_id, instance_id=instance_id))
    submitter = _user_names([found.submitter_id]).get(found.submitter_id)
    rows, files = answers(found, form_id)
    evidence = visit_evidence(found)
    return render_template("review/submission.html", submission=found, form_id=form_id, title=title,
                           version=version, submitter=submitter, rows=rows, files=files, evidence=evidence,
                           states=REVIEW_STATES, error=error, **submission_feedback(found, form_id)
                           ), 400 if error else 200


# ---- conflicts ---------------------------------------------------------------------------------------------

def _choices(conflict) -> list[dict[str, Any]]:
    """The distinct values the conflicting submissions recorded, each once, in the order they came."""
    seen: dict[str, dict[str, Any]] = {}
    for entry in conflict.entries:
        raw = json.dumps(entry.get("value"), ensure_ascii=False, sort_keys=True)
        seen.setdefault(raw, {"raw": raw, "value": entry.get("value")})
    return list(seen.values())


@bp.get("/conflicts")
@page(*REVIEWERS)
def conflicts():
    principal = current_principal()
    number = page_number()
    result = open_conflicts(db(), principal.scope, area=_area_arg(), limit=PER_PAGE,
                            offset=(number - 1) * PER_PAGE)
    items = [{"conflict": c, "household": n, "head": h, "village": v, "choices": _choices(c)}
             for c, n, h, v in result.items]
    people = display_names(e.get("by") for c, *_rest in result.items for e in c.entries)
    return render_template("review/conflicts.html", items=items, people=people, pages=_pages(result.total, number),
                           areas=area_choices(db(), principal.scope), area=request.args.get("area", ""))


def _typed(text: str, values: list[Any]) -> Any:
    """A value typed in by the supervisor, as a number when the conflicting values are numbers."""
    known = [v for v in values if v is not None]
    if known and all(isinstance(v, (int, float)) and not isinstance(v, bool) for v in known):
        try:
            return int(text) if all(isinstance(v, int) for v in known) else float(text)
        except ValueError:
            pass
    return text


@bp.post("/conflicts/<key>/resolve")
@page(*REVIEWERS)
def resolve(key: str):
    principal = current_principal()
    conflict = find_conflict(db(), principal.scope, key)
    back = redirect(url_for("review.conflicts", area=request.form.get("area") or None))
    choices = {c["raw"]: c["value"] for c in _choices(conflict)}
    choice = request.form.get("choice", "")
    other = (request.form.get("other") or "").strip()
    note = (request.form.get("note") or "").strip()[:MAX_COMMENT] or None
    if choice == "__other__":
        if not other:
            flash(_("请填写其他值，或选择一个已填报的值。"), "error")
            return back
        value = _typed(other, list(choices.values()))
    elif choice in choices:
        value = choices[choice]
    else:
        flash(_("请选择一个值。"), "error")
        return back
    try:
        resolved = resolve_conflict(db(), conflict, value, note, principal.user.id, principal.user.username,
                                    runtime().queue.options())
    except DomainError as refused:
        if refused.kind not in ("invalid", "conflict"):
            raise
        db().rollback()
        flash(_("这个冲突已经处理过了。") if refused.kind == "conflict" else refused.message(current_lang()), "error")
        return back
    record_resolution(db(), resolved, value, note)
    db().commit()
    flash(_("已解决：%(field)s 定为“%(value)s”。", field=field_label(conflict.field, current_lang()),
            value=value_label(value, conflict.field)), "ok")
    return back


# ---- data quality and questionable visits ------------------------------------------------------------------

@bp.get("/quality")
@page(*REVIEWERS)
def quality():
    principal = current_principal()
    number = page_number()
    report = quality_report(db(), principal.scope, area=_area_arg(), limit=PER_PAGE, offset=(number - 1) * PER_PAGE,
                            failed_jobs=principal.user.role == "admin")
    return render_template("review/quality.html", report=report, pages=_pages(report["findings"].total, number),
                           areas=area_choices(db(), principal.scope), area=request.args.get("area", ""),
                           unattached_labels=UNATTACHED_LABELS)


@bp.get("/visits")
@page(*REVIEWERS)
def visits():
    principal = current_principal()
    month = month_arg()
    number = page_number()
    result = questionable_visits(db(), principal.scope, month, area=_area_arg(), limit=PER_PAGE,
                                 offset=(number - 1) * PER_PAGE)
    submitters = _user_names(row[6] for row in result.items)
    details = visit_reasons(db(), [row[0].household_id for row in result.items])
    return render_template("review/visits.html", result=result, pages=_pages(result.total, number), month=month,
                           submitters=submitters, details=details, reason_labels=REASON_LABELS,
                           areas=area_choices(db(), principal.scope),
                           area=request.args.get("area", ""))


# ---- submissions from outside their household's areas ------------------------------------------------------

@bp.get("/out-of-area")
@page(*REVIEWERS)
def out_of_area():
    principal = current_principal()
    number = page_number()
    result = out_of_area_submissions(db(), principal.scope, area=_area_arg(), limit=PER_PAGE,
                                     offset=(number - 1) * PER_PAGE)
    submitters = _user_names(row[0].submitter_id for row in result.items)
    return render_template("review/out_of_area.html", result=result, pages=_pages(result.total, number),
                           submitters=submitters, areas=area_choices(db(), principal.scope),
                           area=request.args.get("area", ""), max_comment=MAX_COMMENT)


@bp.post("/out-of-area/<xml_form_id>/<instance_id>")
@page(*REVIEWERS)
def decide_out_of_area_page(xml_form_id: str, instance_id: str):
    principal = current_principal()
    found = find_submission(db(), principal.scope, xml_form_id, instance_id)[0]
    back = redirect(url_for("review.out_of_area", area=request.form.get("area") or None))
    decision = request.form.get("decision", "")
    made = on_page(lambda: decide_out_of_area(db(), found, decision, request.form.get("reason"), principal.user))
    if made is REFUSED:
        return back
    record_area_decision(db(), xml_form_id, instance_id, made.decision, made.reason)
    db().commit()
    runtime().wake_worker()
    flash(_("已接受，将并入该户档案。") if decision == "accepted" else _("已拒绝，提交仍保留。"), "ok")
    return back
