"""危房改造台账: the ledger of the caller's areas by area, grade, mode, stage and deadline, each row opening its
household's file; a village's 公示 list, printable; and the entries made from the household file: a payment to the
一卡通 by finance staff (财务人员) or an admin; the next stage seen, mode, floor area, priority groups, deadline by a
supervisor or an admin. The household file
shows its row with `renovation_view`. Everything in the caller's areas; another area's house answers 404."""
from __future__ import annotations

import datetime as dt
from typing import Any

from flask import Blueprint, flash, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_babel import lazy_gettext

from server.audit import record
from server.db import utcnow
from server.i18n import current_lang
from server.pages.common import REFUSED, choice_arg, current_principal, on_page, page, page_number
from server.readmodels import resolve_area
from server.runtime import db, runtime
from sync.renovation import GROUPS, MODES, STAGES, next_stage, overdue
from sync.renovation_ledger import (PAYERS, RECORDERS, china_today, enter_renovation_fact, find_renovation,
                                    list_renovations, may_enter, not_allowed, publicity_list)
from sync.renovation_models import Renovation
from sync.review import area_choices

bp = Blueprint("renovation", __name__, url_prefix="/renovation")
PER_PAGE = 50
#: the assessment form's photo questions, as a ledger row names them
PHOTO_LABELS = {"photo_house": lazy_gettext("房屋全景"), "photo_house_2": lazy_gettext("其他角度"),
                "photo_damage": lazy_gettext("损坏部位"), "photo_sign": lazy_gettext("等级标识牌")}
SOURCE_LABELS = {"roster": lazy_gettext("来自建档立卡名单和收入调查"), "entry": lazy_gettext("人工登记"),
                 "assessment": lazy_gettext("来自鉴定"), "rules": lazy_gettext("按规则设定")}


def _label(table: dict[str, tuple[str, str]], code: str | None) -> str:
    if not code:
        return ""
    zh, en = table.get(code, (code, code))
    return en if current_lang() == "en" else zh


def mode_label(renovation: Renovation) -> str:
    """改造方式 in words: the label of its code, with the assessor's own words for "other"."""
    label = _label(MODES, renovation.mode)
    return f"{label}：{renovation.mode_other}" if renovation.mode_other else label


#: what set a stage's date, as the row names it
SOURCE_FORMS = {"housing_assessment": lazy_gettext("鉴定"), "household_visit": lazy_gettext("入户走访")}


def stage_source(renovation: Renovation, stage: str, number: str) -> dict[str, Any] | None:
    """The submission (its form's name, linked) or the entry (who entered it) that set a stage's date."""
    source = (renovation.stage_sources or {}).get(stage)
    if not source:
        return None
    if source.get("instance_id"):
        return {"label": SOURCE_FORMS.get(source["form"], source["form"]), "form": source["form"],
                "url": url_for("households.submission_page", number=number, form_id=source["form"],
                               instance_id=source["instance_id"])}
    return {"label": _("%(name)s 登记", name=source.get("by") or ""), "form": None, "url": None}


def renovation_view(renovation: Renovation, number: str, today: dt.date) -> dict[str, Any]:
    """A ledger row as pages show it: labels, dates, photos by stage (linked to the submissions' files)."""
    photos: dict[str, list[dict[str, Any]]] = {}
    for photo in renovation.photos:
        photos.setdefault(photo["stage"], []).append({
            "label": PHOTO_LABELS.get(photo["role"], photo["role"]), "on": photo["on"],
            "url": url_for("api.submission_attachment", xml_form_id="housing_assessment",
                           instance_id=photo["instance_id"], filename=photo["file"]),
            "source": url_for("households.submission_page", number=number, form_id="housing_assessment",
                              instance_id=photo["instance_id"])})
    following = next_stage(renovation.stage)
    return {
        "number": number, "grade": renovation.grade, "graded_on": renovation.graded_on,
        "assessment_url": url_for("households.submission_page", number=number, form_id="housing_assessment",
                                  instance_id=renovation.assessment_instance_id),
        "stage": renovation.stage, "stage_label": _label(STAGES, renovation.stage),
        "next_stage": following, "next_stage_label": _label(STAGES, following),
        "mode": renovation.mode, "mode_label": mode_label(renovation),
        "mode_source": SOURCE_LABELS.get(renovation.mode_source or "", ""),
        "groups": [_label(GROUPS, g) for g in renovation.groups], "group_codes": renovation.groups,
        "groups_source": SOURCE_LABELS.get(renovation.groups_source, ""),
        "floor_area": renovation.floor_area, "subsidy": renovation.subsidy, "subsidy_year": renovation.subsidy_year,
        "paid_amount": renovation.paid_amount, "paid_on": renovation.paid_on,
        "dates": [(_label(STAGES, stage), getattr(renovation, column), stage_source(renovation, stage, number))
                  for stage, column in (("building", "started_on"), ("finished", "finished_on"),
                                        ("moved_in", "moved_in_on"), ("old_dealt", "old_dealt_on"))],
        "deadline": renovation.deadline, "deadline_source": SOURCE_LABELS.get(renovation.deadline_source or "", ""),
        "overdue": overdue(renovation.stage, renovation.deadline, today),
        "regraded": renovation.regraded,
        "photos": [(_label(STAGES, stage), photos[stage]) for stage in STAGES if stage in photos],
        "history": [{"at": step["at"], "event": step["event"], "by": step.get("by")}
                    for step in renovation.history],
    }


def renovation_forms(user) -> dict[str, Any]:
    """What the household file offers its reader: the payment form to finance staff and admins, the other entry
    forms to supervisors and admins."""
    return {"pay": user.role in PAYERS, "enter": user.role in RECORDERS,
            "modes": [(code, _label(MODES, code)) for code in MODES],
            "groups": [(code, _label(GROUPS, code)) for code in GROUPS]}


@bp.get("/")
@page()
def list_page():
    principal = current_principal()
    today = china_today(utcnow())
    filters = {"area": request.args.get("area", ""), "grade": choice_arg("grade", ("C", "D")),
               "mode": choice_arg("mode", MODES), "stage": choice_arg("stage", STAGES),
               "overdue": choice_arg("overdue", ("1",)), "unpaid": choice_arg("unpaid", ("1",))}
    number = page_number()
    result = list_renovations(db(), principal.scope, today=today,
                              area=resolve_area(db(), principal.scope, filters["area"] or None),
                              grade=filters["grade"], mode=filters["mode"], stage=filters["stage"],
                              overdue=bool(filters["overdue"]), unpaid=bool(filters["unpaid"]), limit=PER_PAGE,
                              offset=(number - 1) * PER_PAGE)
    rows = [{**renovation_view(row.renovation, row.household, today), "head": row.head_name, "village": row.village,
             "url": url_for("households.file_page", number=row.household, _anchor="renovation")}
            for row in result.items]
    export_args = {name: value for name, value in filters.items() if value}
    for flag in ("overdue", "unpaid"):
        if export_args.get(flag):
            export_args[flag] = "true"
    return render_template("renovation/list.html", rows=rows, filters=filters, total=result.total,
                           export_args=export_args,
                           pages={"number": number, "count": max(1, -(-result.total // PER_PAGE)),
                                  "total": result.total},
                           areas=area_choices(db(), principal.scope, ("town", "village")),
                           modes=[(code, _label(MODES, code)) for code in MODES],
                           stages=[(code, _label(STAGES, code)) for code in STAGES])


@bp.get("/publicity")
@page()
def publicity_page():
    """公示: a village's C/D houses — name, village, grade, mode, subsidy — to print and post."""
    principal = current_principal()
    villages = area_choices(db(), principal.scope, ("village",))
    code = request.args.get("village") or ""
    village = resolve_area(db(), principal.scope, code) if code else None
    rows = [{"name": row.head_name, "village": row.village, "grade": row.renovation.grade,
             "mode": mode_label(row.renovation), "subsidy": row.renovation.subsidy}
            for row in publicity_list(db(), principal.scope, village)] if village else []
    return render_template("renovation/publicity.html", villages=villages, village=village, rows=rows,
                           today=china_today(utcnow()))


def _entry_value(kind: str) -> dict[str, Any]:
    """The form's fields for an entry of `kind`, as the service takes them (it checks them)."""
    form = request.form

    def number(name: str) -> float | None:
        try:
            return float(form.get(name, ""))
        except ValueError:
            return None

    def day(name: str) -> dt.date | None:
        try:
            return dt.date.fromisoformat(form.get(name, ""))
        except ValueError:
            return None

    return {"payment": lambda: {"amount": number("amount"), "on": day("on")},
            "stage": lambda: {"stage": form.get("stage"), "on": day("on")},
            "mode": lambda: {"mode": form.get("mode")},
            "floor_area": lambda: {"m2": number("m2")},
            "groups": lambda: {"groups": form.getlist("groups")},
            "deadline": lambda: {"on": day("on")}}.get(kind, dict)()


@bp.post("/<number>/entries")
@page()
def entry_page(number: str):
    principal = current_principal()
    row = find_renovation(db(), principal.scope, number)
    kind = request.form.get("kind", "")
    if not may_enter(principal.user.role, kind):
        raise not_allowed(kind)
    value = _entry_value(kind)
    back = redirect(url_for("households.file_page", number=number, _anchor="renovation"))
    if on_page(lambda: enter_renovation_fact(db(), row.renovation, kind, value, principal.user,
                                             runtime().queue.options())) is REFUSED:
        return back
    record(db(), "renovation.entry", f"household:{number}",
           {"kind": kind, **{k: v.isoformat() if hasattr(v, "isoformat") else v for k, v in value.items()}})
    db().commit()
    flash(_("已登记。"), "ok")
    return back
