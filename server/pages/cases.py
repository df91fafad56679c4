"""问题清单: the problem cases of the caller's areas by village or town, kind, state and age, each row opening its
household's file, with a supervisor's sign-off (销号) form; and the measure form the household file shows. The
household file lists a household's cases with `case_views`."""
from __future__ import annotations

import datetime as dt
from typing import Any, Callable, Iterable

from flask import Blueprint, flash, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_babel import lazy_gettext

from server.audit import record_case_decision
from server.errors import Problem
from server.i18n import current_lang
from server.models import VISIT_ROLES
from server.pages.common import (REFUSED, choice_arg, current_principal, display_names, local_time, number_arg,
                                 on_page, page, page_number)
from server.readmodels import resolve_area
from server.runtime import db, runtime
from sync.case_lists import (MAX_TEXT, SIGNERS, STATE_FILTERS, CaseRow, add_case_measure, find_case, list_cases,
                             may_add_measure, sign_off_case)
from sync.case_models import OPEN_STATES, Case
from sync.cases import KINDS
from sync.rules import RENOVATION_STATES, WATER_INDICATORS
from sync.review import area_choices

bp = Blueprint("cases", __name__, url_prefix="/review/cases")
PER_PAGE = 50

STATE_LABELS = {"open": lazy_gettext("待解决"), "reopened": lazy_gettext("再次发现"),
                "closed": lazy_gettext("已解决"), "signed_off": lazy_gettext("已销号")}
FILTER_LABELS = {"open": lazy_gettext("未解决"), "done": lazy_gettext("已解决或已销号"),
                 "reopened": lazy_gettext("再次发现"), "closed": lazy_gettext("走访核实已解决"),
                 "signed_off": lazy_gettext("已销号")}
EVENT_LABELS = {"opened": lazy_gettext("发现"), "measure": lazy_gettext("帮扶措施"), "closed": lazy_gettext("核实已解决"),
                "signed_off": lazy_gettext("销号"), "reopened": lazy_gettext("再次发现")}
#: the visit form's 帮扶措施 codes (forms/README.md)
HELP_LABELS = {"job": lazy_gettext("就业推荐"), "aid": lazy_gettext("申请补助/救助"),
               "housing": lazy_gettext("联系危房改造"), "industry": lazy_gettext("产业帮扶"),
               "policy": lazy_gettext("政策讲解"), "other": lazy_gettext("其他")}
#: the ages the list filters by, in days at least
AGES = {30: lazy_gettext("30 天以上"), 90: lazy_gettext("90 天以上")}


def kind_label(kind: str) -> str:
    zh, en = KINDS.get(kind, (kind, kind))
    return en if current_lang() == "en" else zh


def _detail(details: dict[str, Any] | None) -> str | None:
    """What the observation said of the problem, in a line: a finding's message, the grade, the note."""
    if not details:
        return None
    if details.get("message_zh"):
        return details["message_en"] if current_lang() == "en" else details["message_zh"]
    if details.get("grade"):
        progress = details.get("renovation_state") or ""
        zh, en = RENOVATION_STATES.get(progress, (progress, progress))
        return f"{details['grade']} · {en if current_lang() == 'en' else zh}"
    if details.get("indicators"):
        names = [WATER_INDICATORS[n][1 if current_lang() == "en" else 0] for n in details["indicators"]
                 if n in WATER_INDICATORS]
        return _("%(items)s不达标", items="、".join(names))
    if details.get("chronic_signed") == "no":
        return _("慢病患者未签约家庭医生")
    return details.get("note") or None


def _help(help_given: dict[str, Any]) -> str:
    parts = [str(HELP_LABELS.get(code, code)) for code in help_given.get("codes") or []]
    parts += [text for text in (help_given.get("other"), help_given.get("note")) if text]
    return "；".join(parts)


def case_views(cases: Iterable[Case], source_url: Callable[[str | None], str | None],
               now: dt.datetime | None = None) -> list[dict[str, Any]]:
    """Cases as a page shows them, with their history; `source_url` links a submission by its instanceID."""
    cases = list(cases)
    now = now or dt.datetime.now(dt.timezone.utc)
    people = display_names(step.get("by") for case in cases for step in case.history)
    views = []
    for case in cases:
        history = [{"at": local_time(step["at"]), "event": step["event"], "label": EVENT_LABELS.get(step["event"]),
                    "by": people.get(step.get("by"), step.get("by")),
                    "text": step.get("text") or (_help(step["help"]) if step.get("help") else _detail(step.get("details"))),
                    "url": source_url(step.get("instance_id")) if step.get("instance_id") else None}
                   for step in case.history]
        opened = case.opened_at if case.opened_at.tzinfo else case.opened_at.replace(tzinfo=dt.timezone.utc)
        views.append({"key": case.key, "kind": case.kind, "kind_label": kind_label(case.kind),
                      "subject": case.subject if case.kind != "data_quality" else "", "state": case.state,
                      "state_label": STATE_LABELS[case.state], "open": case.state in OPEN_STATES,
                      "opened": local_time(case.opened_at), "age_days": max(0, (now - opened).days),
                      "closed": local_time(case.closed_at), "cadre": case.cadre,
                      "cadre_name": people.get(case.cadre, case.cadre),
                      "last_measure": local_time(case.last_measure_at), "history": history})
    return views


def case_permissions(user, household) -> dict[str, Any]:
    """The case forms the household file offers its reader: 销号 to supervisors and admins, measures also to the
    household's paired cadre (sync.case_lists.may_add_measure)."""
    return {"sign": user.role in SIGNERS,
            "measure": user.role in SIGNERS or (user.role == "cadre" and household.cadre == user.username),
            "max_text": MAX_TEXT}


@bp.get("/")
@page(*SIGNERS)
def list_page():
    principal = current_principal()
    filters = {"area": request.args.get("area", ""), "kind": choice_arg("kind", KINDS),
               "state": choice_arg("state", [*STATE_FILTERS, "all"], "open"),
               "age": number_arg("age", 0, 0, 36_500)}
    number = page_number()
    result = list_cases(db(), principal.scope, area=resolve_area(db(), principal.scope, filters["area"] or None),
                        kind=filters["kind"], state=None if filters["state"] == "all" else filters["state"],
                        min_age_days=filters["age"], limit=PER_PAGE, offset=(number - 1) * PER_PAGE)
    views = case_views([row.case for row in result.items], lambda _iid: None)
    rows = [{**view, "household": row.household, "head": row.head_name, "village": row.village,
             "url": url_for("households.file_page", number=row.household, _anchor="cases")}
            for row, view in zip(result.items, views)]
    export_args = {name: value for name, value in (("area", filters["area"]), ("kind", filters["kind"]),
                                                   ("state", None if filters["state"] == "all" else filters["state"]),
                                                   ("age", filters["age"])) if value}
    return render_template("cases/list.html", rows=rows, filters=filters, total=result.total, export_args=export_args,
                           pages={"number": number, "count": max(1, -(-result.total // PER_PAGE)),
                                  "total": result.total},
                           areas=area_choices(db(), principal.scope, ("town", "village")), kinds=KINDS,
                           kind_label=kind_label, filter_labels=FILTER_LABELS, ages=AGES, max_text=MAX_TEXT)


def _back():
    """Where a form returns: the page it was sent from (a path on this site), else the list."""
    target = request.form.get("next") or ""
    if not target.startswith("/") or target.startswith("//"):
        target = url_for("cases.list_page")
    return redirect(target)


@bp.post("/<key>/sign-off")
@page(*SIGNERS)
def sign_off_page(key: str):
    principal = current_principal()
    row = find_case(db(), principal.scope, key)
    return _decide(row, "case.sign_off", sign_off_case, request.form.get("reason", ""),
                   _("已销号：%(household)s %(kind)s。", household=row.household, kind=kind_label(row.case.kind)))


@bp.post("/<key>/measures")
@page(*VISIT_ROLES)
def measure_page(key: str):
    principal = current_principal()
    row = find_case(db(), principal.scope, key)
    if not may_add_measure(principal.user, row.case):
        raise Problem(403, "case.not_your_household", "只有该户的帮扶责任人、审核人员或管理员可以记录措施。",
                      "Only the household's cadre, a supervisor or an admin may record a measure.")
    return _decide(row, "case.measure", add_case_measure, request.form.get("text", ""), _("已记录措施。"))


def _decide(row: CaseRow, action: str, decide, text: str, done: str):
    """One decision on a case from its page: a refusal (no text, no longer open) comes back as a message on the
    page it was made from; a decision is audited, then said."""
    key, kind = row.case.key, row.case.kind
    if on_page(lambda: decide(db(), row.case, text, current_principal().user, runtime().queue.options())) is REFUSED:
        return _back()
    record_case_decision(db(), action, key, row.household, kind, text.strip())
    db().commit()
    flash(done, "ok")
    return _back()
