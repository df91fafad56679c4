"""The audit log page for admins (/admin/audit): who did which privileged action, when, from where, what changed;
filtered by action, actor and days, a page at a time. The same entries as GET /api/v1/audit."""
from __future__ import annotations

import datetime as dt
import json

from flask import Blueprint, render_template, request

from server.audit import ACTIONS, day_bounds, entries
from server.errors import Problem
from server.pages.common import CHINA, page, page_number
from server.runtime import db

bp = Blueprint("audit", __name__, url_prefix="/admin/audit")
PER_PAGE = 50


def _day(name: str) -> dt.date | None:
    value = request.args.get(name) or ""
    if not value:
        return None
    try:
        return dt.date.fromisoformat(value)
    except ValueError:
        raise Problem(400, "page.date", "日期格式应为 YYYY-MM-DD。", "Dates must be YYYY-MM-DD.") from None


@bp.get("/")
@page("admin")
def index():
    action = request.args.get("action") or None
    action = action if action in ACTIONS else None
    actor = (request.args.get("actor") or "").strip()[:64] or None
    first, last = _day("from"), _day("to")
    start, end = day_bounds(first, last, CHINA)
    number = page_number()
    total, rows = entries(db(), action=action, actor=actor, start=start, end=end, limit=PER_PAGE,
                          offset=(number - 1) * PER_PAGE)
    items = [{"entry": e, "details": json.dumps(e.details, ensure_ascii=False, sort_keys=True) if e.details else ""}
             for e in rows]
    return render_template("admin/audit.html", items=items, total=total, actions=ACTIONS,
                           pages={"number": number, "count": max(1, -(-total // PER_PAGE)), "total": total},
                           filters={"action": action or "", "actor": actor or "", "from": first or "",
                                    "to": last or ""})
