"""Visit coverage pages (走访覆盖): a month's coverage drilled down county → town → village → cadre, the households
behind every number, the not-visited list by cadre that a town supervisor calls the cadres about, and the visiting
duties by role (走访职责, 遍访: sync/duties.py) with who has not met theirs.

Thin handlers: read the arguments, call one service of sync.coverage with the caller's areas, end the read-only
transaction (on SQLite every transaction holds the write lock) and render. The trend chart is inline SVG laid out
here from the report's numbers; no script draws it.
"""
from __future__ import annotations

from flask import Blueprint, current_app, render_template, request

from server.models import VISIT_ROLES
from server.pages.common import current_principal, month_arg, offset_arg, page, this_month
from server.runtime import db, runtime
from sync.coverage import NO_CADRE, TrendPoint, coverage_for_month, coverage_households, not_visited, shift_month
from sync.duties import duties_for_month
from sync.visitor_roles import DUTY_LABELS, TOWN_SECRETARY, VILLAGE_SECRETARY

bp = Blueprint("coverage", __name__, url_prefix="/coverage")

#: households shown on one list page
PER_PAGE = 500
#: a change of less than this many percentage points is shown as level
LEVEL_PP = 0.5


@bp.get("/")
@page(*VISIT_ROLES)
def month():
    principal = current_principal()
    chosen = month_arg()
    report = coverage_for_month(db(), principal.scope.area_ids, chosen, request.args.get("area") or None,
                                request.args.get("by") or None)
    db().rollback()
    return render_template("coverage/month.html", report=report, months=_month_switch(chosen),
                           chart=trend_chart(report.trend), level_pp=LEVEL_PP, no_cadre=NO_CADRE)


@bp.get("/not-visited")
@page(*VISIT_ROLES)
def not_visited_page():
    principal = current_principal()
    chosen = month_arg()
    offset = offset_arg()
    listing = not_visited(db(), principal.scope.area_ids, chosen, request.args.get("area") or None,
                          request.args.get("cadre") or None, PER_PAGE, offset)
    db().rollback()
    return _list(listing, chosen, offset)


@bp.get("/households")
@page(*VISIT_ROLES)
def households():
    principal = current_principal()
    chosen = month_arg()
    offset = offset_arg()
    listing = coverage_households(db(), principal.scope.area_ids, chosen, request.args.get("area") or None,
                                  request.args.get("cadre") or None, request.args.get("state") or None,
                                  PER_PAGE, offset)
    db().rollback()
    return _list(listing, chosen, offset)


@bp.get("/duties")
@page(*VISIT_ROLES)
def duties():
    """Each village's duties; the households left are listed for a village, counted above it."""
    principal = current_principal()
    chosen = month_arg()
    report = duties_for_month(db(), principal.scope.area_ids, chosen, runtime().queue.rules.duties,
                              request.args.get("area") or None)
    db().rollback()
    listing = report.area is not None and report.area.level in ("village", "group")
    return render_template("coverage/duties.html", report=report, months=_month_switch(chosen), listing=listing,
                           duty_labels=DUTY_LABELS, secretaries=(VILLAGE_SECRETARY, TOWN_SECRETARY),
                           file_links="households.file_page" in current_app.view_functions)


def _list(listing, chosen: str, offset: int):
    return render_template("coverage/households.html", listing=listing, groups=listing.by_cadre(),
                           months=_month_switch(chosen), offset=offset, per_page=PER_PAGE, no_cadre=NO_CADRE,
                           file_links="households.file_page" in current_app.view_functions)


def _month_switch(chosen: str) -> dict[str, str | None]:
    current = this_month()
    return {"previous": shift_month(chosen, -1), "current": chosen,
            "next": shift_month(chosen, 1) if chosen < current else None,
            "this": current if chosen != current else None}


def trend_chart(trend: list[TrendPoint], width: int = 320, height: int = 170) -> dict:
    """Bar positions for the trend chart: per month a verified bar with the questionable share stacked on it,
    labelled with its verified percentage.

    A month before the first month with a visit, or any month of an area with nobody to visit, has no data: it
    gets no bar (a bar of 0 would say that nobody visited) and says 无数据 instead. A month without visits after
    the first visit is a real 0."""
    top, bottom, left = 18, 22, 36
    plot = height - top - bottom
    step = (width - left) / max(1, len(trend))
    bar = step * 0.62
    first = next((i for i, point in enumerate(trend) if point.counts.visited and point.counts.assigned), len(trend))
    bars = []
    for index, point in enumerate(trend):
        counts = point.counts
        x = left + index * step + (step - bar) / 2
        entry = {"month": point.month, "label": point.month[5:], "x": round(x, 1), "width": round(bar, 1),
                 "center": round(x + bar / 2, 1), "assigned": counts.assigned, "no_data": index < first}
        if index >= first:
            verified_h = plot * (counts.verified_pct or 0.0) / 100
            questionable_h = plot * (counts.pct(counts.questionable) or 0.0) / 100
            entry.update({
                "verified_pct": counts.verified_pct, "questionable_pct": counts.pct(counts.questionable),
                "verified_y": round(top + plot - verified_h, 1), "verified_h": round(verified_h, 1),
                "questionable_y": round(top + plot - verified_h - questionable_h, 1),
                "questionable_h": round(questionable_h, 1),
                "text_y": round(top + plot - verified_h - questionable_h - 4, 1)})
        bars.append(entry)
    grid = [{"pct": pct, "y": round(top + plot - plot * pct / 100, 1)} for pct in (0, 50, 100)]
    return {"width": width, "height": height, "left": left, "bottom": top + plot, "label_y": height - 6,
            "no_data_y": top + plot - 6, "bars": bars, "grid": grid, "empty": first == len(trend),
            "middle": round(left + (width - left) / 2, 1), "middle_y": round(top + plot / 2, 1)}
