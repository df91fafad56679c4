"""退出程序: the households of the caller's areas in the exit procedure, by area, last step reached and done or not,
each opening its household's file; the file's section (`exit_view`) with the steps done, the exit standard beside
them, and the next step's form for those whose level may enter it. Everything in the caller's areas; another area's
household answers 404."""
from __future__ import annotations

import datetime as dt
from typing import Any

from flask import Blueprint, flash, redirect, render_template, request, url_for
from flask_babel import gettext as _

from server.audit import record
from server.db import utcnow
from server.errors import Problem
from server.i18n import current_lang
from server.models import VISIT_ROLES
from server.pages.common import REFUSED, current_principal, on_page, page, page_number
from server.readmodels import resolve_area
from server.runtime import db, runtime
from server.scope import level_for, scoped_household
from sync.exit_procedure import MAX_PHOTO, ORDER, STEPS, document_photo, enter_step, exit_detail, list_exits
from sync.models import Area, Household
from sync.renovation_ledger import china_today
from sync.review import area_choices

bp = Blueprint("exits", __name__, url_prefix="/exits")
PER_PAGE = 50


def step_label(code: str | None) -> str:
    if not code:
        return ""
    zh, en, _level = STEPS[code]
    return en if current_lang() == "en" else zh


def exit_view(household: Household, area: Area, standard_met: bool | None) -> dict[str, Any]:
    """A household's exit procedure as its file shows it."""
    user = current_principal().user
    detail = exit_detail(db(), household, area.name, standard_met, user.role, level_for(db(), user, area))
    return {**detail, "next_label": step_label(detail["next_step"]),
            "steps": [{"label": step_label(s.step), "on": s.on, "by": s.by_name, "note": s.note,
                       "photo": url_for("api.exit_step_photo", number=household.number, step=s.step)
                       if s.photo_sha256 else None} for s in detail["steps"]]}


@bp.get("/")
@page(*VISIT_ROLES)
def list_page():
    principal = current_principal()
    step = request.args.get("step") or None
    done = request.args.get("done") or None
    if step not in (None, *ORDER) or done not in (None, "0", "1"):
        raise Problem(400, "page.filter", "网址中的筛选条件无效。", "A filter in the address is not valid.")
    filters = {"area": request.args.get("area", ""), "step": step, "done": done}
    number = page_number()
    result = list_exits(db(), principal.scope, area=resolve_area(db(), principal.scope, filters["area"] or None),
                        step=step, done=None if done is None else done == "1", limit=PER_PAGE,
                        offset=(number - 1) * PER_PAGE)
    rows = [{"number": row.household, "head": row.head_name, "village": row.village, "step": row.step,
             "step_label": step_label(row.step), "reached": row.reached, "last_on": row.last_on, "done": row.done,
             "standard_met": row.standard_met,
             "url": url_for("households.file_page", number=row.household, _anchor="exit")}
            for row in result.items]
    return render_template("exits/list.html", rows=rows, filters=filters, total=result.total, steps_count=len(ORDER),
                           pages={"number": number, "count": max(1, -(-result.total // PER_PAGE)),
                                  "total": result.total},
                           areas=area_choices(db(), principal.scope, ("town", "village")),
                           steps=[(code, step_label(code)) for code in ORDER])


@bp.post("/<number>/steps")
@page(*VISIT_ROLES)
def step_page(number: str):
    principal = current_principal()
    household, area, _record = scoped_household(db(), principal.scope, number)
    step = request.form.get("step", "")
    try:
        on = dt.date.fromisoformat(request.form.get("on", ""))
    except ValueError:
        on = None
    note = request.form.get("note")
    upload = request.files.get("photo")
    data = upload.stream.read(MAX_PHOTO + 1) if upload and upload.filename else None
    back = redirect(url_for("households.file_page", number=number, _anchor="exit"))
    now = utcnow()

    def enter():
        photo = document_photo(data, upload.filename, upload.mimetype) if data is not None else None
        enter_step(db(), household, step, on, note, principal.user, level_for(db(), principal.user, area), now,
                   china_today(now), photo)
        return photo

    photo = on_page(enter)
    if photo is REFUSED:
        return back
    if data is not None:
        runtime().store.put_bytes(data)
    record(db(), "exit.step", f"household:{number}", {"step": step, "on": on.isoformat(), "note": note or None,
                                                      "photo": photo[0] if photo else None})
    db().commit()
    flash(_("已登记。"), "ok")
    return back
