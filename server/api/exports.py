"""GET /api/v1/exports/…: submissions, household records and visits as files, area-scoped like every read.

The answer streams (the first bytes leave at once, memory stays flat: server/exports/), with a file name in
Chinese and ASCII for the browser's download. ID numbers are masked for every role but admin, as everywhere.
"""
from __future__ import annotations

import datetime as dt
from typing import Callable, Iterator
from urllib.parse import quote

from flask import Response, g, request, stream_with_context
from sqlalchemy import select
from sqlalchemy.orm import Session

from forms.models import Form
from server.api import bp
from server.api.common import load
from server.api.openapi import documented
from server.api.schemas import ExportQuerySchema, HouseholdExportQuerySchema, MonthlyReportQuerySchema
from server.api.submissions import FULL_ID_NUMBER_ROLES
from server.auth import require_api_user
from server.db import reading_session
from server.errors import Problem
from server.models import VISIT_ROLES
from server.exports import households as household_exports
from server.exports.monthly import monthly_xlsx
from server.exports import submissions as submission_exports
from server.params import CHINA
from server.readmodels import HouseholdFilters, HouseholdList, resolve_area
from server.runtime import db, runtime
from sync.report import monthly_report

TYPES = {"csv": "text/csv; charset=utf-8",
         "xlsx": "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
         "zip": "application/zip", "geojson": "application/geo+json"}


def _reading(produce: Callable[[Session], Iterator[bytes]]) -> Iterator[bytes]:
    """The export's bytes, read in a session of its own that takes no write lock: on SQLite an export of a
    county must not stop every submission while it runs."""
    rt = runtime()
    session = reading_session(rt.sessions, rt.engine)
    try:
        yield from produce(session)
    finally:
        session.close()


def _download(produce: Callable[[Session], Iterator[bytes]], filename: str, ascii_name: str,
              extension: str) -> Response:
    # what the handler read (the caller, the filters) is done with: end its transaction before the stream starts
    db().commit()
    response = Response(stream_with_context(_reading(produce)), content_type=TYPES[extension])
    response.headers["Content-Disposition"] = (f'attachment; filename="{ascii_name}.{extension}"; '
                                               f"filename*=UTF-8''{quote(filename)}.{extension}")
    response.headers["Cache-Control"] = "no-store"
    # nginx and the like would hold a streamed answer back until the end: let it pass as it comes
    response.headers["X-Accel-Buffering"] = "no"
    return response


def _period(args: dict) -> tuple[dt.datetime | None, dt.datetime | None, str]:
    """[start, end) in UTC from `month` or `from`/`to` (days in China time), and words for the file name."""
    def utc(day: dt.date) -> dt.datetime:
        return dt.datetime.combine(day, dt.time(), CHINA).astimezone(dt.timezone.utc)
    if "month" in args:
        first = dt.date.fromisoformat(args["month"] + "-01")
        following = (first + dt.timedelta(days=32)).replace(day=1)
        return utc(first), utc(following), args["month"]
    start = utc(args["from_"]) if "from_" in args else None
    end = utc(args["to"] + dt.timedelta(days=1)) if "to" in args else None
    words = "_".join(d.isoformat() for d in (args.get("from_"), args.get("to")) if d)
    return start, end, words


@bp.get("/exports/submissions/<xml_form_id>.<any(csv, xlsx, zip):extension>")
@documented(query=ExportQuerySchema, media_type="application/octet-stream")
def export_submissions(xml_form_id: str, extension: str):
    """A form's submissions: CSV (main table), XLSX (a sheet per table) or zip (a CSV per table and the photos)"""
    principal = require_api_user(*VISIT_ROLES)
    args = load(ExportQuerySchema(), request.args)
    form = db().scalar(select(Form).where(Form.xml_form_id == xml_form_id))
    if form is None:
        raise Problem(404, "form.not_found", f"没有表单 {xml_form_id}。", f"There is no form {xml_form_id}.")
    area = resolve_area(db(), principal.scope, args.get("area"))
    start, end, period = _period(args)
    f = submission_exports.SubmissionFilter(form, principal.scope, area, start, end, args.get("review_state"))
    full_ids = g.principal.user.role in FULL_ID_NUMBER_ROLES
    store, media = runtime().store, args["media"]
    produce = {"csv": lambda session: submission_exports.csv_export(session, f, full_ids),
               "xlsx": lambda session: submission_exports.xlsx_export(session, f, full_ids),
               "zip": lambda session: submission_exports.zip_export(session, f, store, full_ids, media)}[extension]
    name = "_".join(p for p in (xml_form_id, area.code if area else "", period) if p)
    return _download(produce, name, name, extension)


@bp.get("/exports/households.<any(csv, xlsx, geojson):extension>")
@documented(query=HouseholdExportQuerySchema, media_type="application/octet-stream")
def export_households(extension: str):
    """The current household records (一户一档) with the household list's filters"""
    principal = require_api_user()
    args = load(HouseholdExportQuerySchema(), request.args)
    area = resolve_area(db(), principal.scope, args.get("area"))
    filters = HouseholdFilters(area=area, status=args.get("status"), monitoring_type=args.get("monitoring_type"),
                               screening=args["screening"], flag=args.get("flag"), cadre=args.get("cadre"),
                               text=args.get("q"), location=args.get("location"), state=args.get("state"),
                               month=args.get("month"))
    writer = {"csv": household_exports.households_csv, "xlsx": household_exports.households_xlsx,
              "geojson": household_exports.households_geojson}[extension]
    scope, month = principal.scope, args.get("month")

    def produce(session: Session) -> Iterator[bytes]:
        return writer(HouseholdList(session, scope, filters), household_exports.HouseholdColumns(session, month))
    suffix = "_".join(p for p in (area.code if area else "", month or "") if p)
    return _download(produce, "一户一档" + (f"_{suffix}" if suffix else ""),
                     "households" + (f"_{suffix}" if suffix else ""), extension)


@bp.get("/exports/visits.geojson")
@documented(query=ExportQuerySchema, media_type="application/geo+json")
def export_visits():
    """The door-to-door visits with their GPS point and verdict, for QGIS"""
    principal = require_api_user(*VISIT_ROLES)
    args = load(ExportQuerySchema(), request.args)
    area = resolve_area(db(), principal.scope, args.get("area"))
    scope = principal.scope

    def produce(session: Session) -> Iterator[bytes]:
        return household_exports.visits_geojson(session, scope, area, args.get("month"), args.get("from_"),
                                                args.get("to"), args.get("review_state"))
    suffix = "_".join(p for p in (area.code if area else "", _period(args)[2]) if p)
    return _download(produce, "走访" + (f"_{suffix}" if suffix else ""), "visits" + (f"_{suffix}" if suffix else ""),
                     "geojson")


@bp.get("/reports/monthly.xlsx")
@documented(query=MonthlyReportQuerySchema, media_type=TYPES["xlsx"])
def monthly_report_xlsx():
    """The month's report by town and village

    Coverage, 三保障 and water, water supply rates against the targets, C/D houses, household types, findings."""
    principal = require_api_user(*VISIT_ROLES)
    args = load(MonthlyReportQuerySchema(), request.args)
    area = resolve_area(db(), principal.scope, args.get("area"))  # 404 for an area outside the caller's
    month, scope, targets = args["month"], principal.scope, runtime().queue.rules.targets

    def produce(session: Session) -> Iterator[bytes]:
        return monthly_xlsx(monthly_report(session, scope.area_ids, month, area.code if area else None, targets))
    name = "_".join(p for p in ("月报", month, area.name if area else "") if p)
    return _download(produce, name, "_".join(p for p in ("monthly", month, area.code if area else "") if p), "xlsx")
