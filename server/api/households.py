"""Household records (一户一档), conflicts and data-quality findings, as the caller's areas allow."""
from __future__ import annotations

from flask import jsonify, request
from sqlalchemy import select

from server.api import bp
from server.api.common import load
from server.api.openapi import documented, page_of
from server.api.schemas import (ConflictQuerySchema, ConflictSchema, HouseholdDetailSchema, HouseholdListSchema,
                                HouseholdQuerySchema, LocationSchema, PageQuerySchema, ResolveSchema,
                                ScreeningSchema)
from server.audit import record, record_resolution
from server.auth import Principal, require_api_user
from server.errors import Problem
from server.readmodels import HouseholdFilters, HouseholdList, household_findings, resolve_area
from server.runtime import db, runtime
from server.scope import scoped_household
from sync.areas import area_by_code
from sync.conflicts import LOCATION_CONFIRMERS, confirm_location, resolve_conflict
from sync.review import quality_report
from sync.models import Area, Household
from sync.records import Conflict


def _household(principal: Principal, number: str):
    return scoped_household(db(), principal.scope, number)


def _area(area_code: str | None) -> Area | None:
    # not scoped: an area outside the caller's is an empty list here, as it always was (the scope filters the rows)
    return area_by_code(db(), area_code) if area_code else None


def _area_filter(principal: Principal, statement, column, area_code: str | None):
    statement = principal.scope.filter(statement, column)
    area = _area(area_code)
    if area is not None:
        statement = statement.where(column.in_(select(Area.id).where(Area.path.startswith(area.path))))
    return statement


@bp.get("/households")
@documented(query=HouseholdQuerySchema, response=page_of(HouseholdListSchema))
def list_households():
    """Households in the caller's areas, by number"""
    principal = require_api_user()
    args = load(HouseholdQuerySchema(), request.args)
    filters = HouseholdFilters(area=resolve_area(db(), principal.scope, args.get("area")), status=args.get("status"),
                               monitoring_type=args.get("monitoring_type"), flag=args.get("flag"),
                               cadre=args.get("cadre"), text=args.get("q"), location=args.get("location"),
                               state=args.get("state"), month=args.get("month"))
    listing = HouseholdList(db(), principal.scope, filters)
    return jsonify({"total": listing.count(),
                    "items": HouseholdListSchema(many=True).dump(listing.rows(args["limit"], args["offset"]))})


@bp.get("/households/screening")
@documented(query=PageQuerySchema, response=page_of(ScreeningSchema))
def screening_list():
    """The 排查 list: households whose latest per-capita income or 低保金 is under the configured figures

    Seed 002 re-checked every registered household under 5,000 yuan per person, especially those with 低保金 under
    200 yuan; both figures are in the rules file (`screening_income_yuan`, `screening_dibao_yuan`). Each item
    gives the reasons it is listed."""
    principal = require_api_user()
    args = load(PageQuerySchema(), request.args)
    filters = HouseholdFilters(area=resolve_area(db(), principal.scope, args.get("area")), screening=True)
    listing = HouseholdList(db(), principal.scope, filters)
    return jsonify({"total": listing.count(),
                    "items": ScreeningSchema(many=True).dump(listing.rows(args["limit"], args["offset"]))})


@bp.get("/households/<number>")
@documented(response=HouseholdDetailSchema)
def get_household(number: str):
    """A household's record (一户一档): current values with the submission each came from"""
    principal = require_api_user()
    household, area, record = _household(principal, number)
    conflicts = db().scalars(select(Conflict).where(Conflict.household_id == household.id)
                             .order_by(Conflict.key)).all()
    findings = household_findings(db(), [household.id]).get(household.id, [])
    return jsonify(HouseholdDetailSchema().dump({
        "household": household, "area": area, "record": record, "conflicts": conflicts, "findings": findings}))


@bp.get("/households/<number>/events")
@documented(response={"type": "array", "items": {"type": "object"}})
def household_events(number: str):
    """The household's events (visits, assessments, member changes, …), oldest first"""
    principal = require_api_user()
    _household_row, _area, record = _household(principal, number)
    return jsonify(record.events if record else [])


@bp.put("/households/<number>/location")
@documented(body=LocationSchema, response=HouseholdDetailSchema)
def set_location(number: str):
    """Confirm where the house is

    A supervisor confirms it, often at the proposed location from a well-accurate visit."""
    principal = require_api_user(*LOCATION_CONFIRMERS)
    body = load(LocationSchema(), request.get_json(silent=True) or {})
    household, _area, _record = _household(principal, number)
    record(db(), "household.location", f"household:{number}", {
        "from": [household.latitude, household.longitude], "to": [body["latitude"], body["longitude"]]})
    confirm_location(db(), household, body["latitude"], body["longitude"], runtime().queue.options())
    db().commit()
    return get_household(number)


@bp.get("/conflicts")
@documented(query=ConflictQuerySchema, response=ConflictSchema(many=True))
def list_conflicts():
    """Conflicting values from different submissions, in the caller's areas"""
    principal = require_api_user()
    args = load(ConflictQuerySchema(), request.args)
    statement = (select(Conflict, Household.number).join(Household, Conflict.household_id == Household.id)
                 .where(Conflict.state == args["state"]))
    statement = _area_filter(principal, statement, Conflict.area_id, args.get("area"))
    rows = db().execute(statement.order_by(Household.number, Conflict.field)
                        .limit(args["limit"]).offset(args["offset"])).all()
    return jsonify(ConflictSchema(many=True).dump([{"conflict": c, "household": n} for c, n in rows]))


@bp.post("/conflicts/<key>/resolve")
@documented(body=ResolveSchema, response=ConflictSchema)
def resolve(key: str):
    """Resolve a conflict with the value that holds (admins, supervisors)"""
    principal = require_api_user("admin", "supervisor")
    body = load(ResolveSchema(), request.get_json(silent=True) or {})
    conflict = db().scalar(principal.scope.filter(select(Conflict).where(Conflict.key == key), Conflict.area_id))
    if conflict is None:
        raise Problem(404, "conflict.not_found", "没有这个冲突。", "There is no such conflict.")
    resolved = resolve_conflict(db(), conflict, body["value"], body.get("note"), principal.user.id,
                                principal.user.username, runtime().queue.options())
    number = db().scalar(select(Household.number).where(Household.id == resolved.household_id))
    record_resolution(db(), resolved, body["value"], body.get("note"))
    db().commit()
    return jsonify(ConflictSchema().dump({"conflict": resolved, "household": number}))


@bp.get("/quality")
@documented(query=PageQuerySchema)
def quality():
    """Data-quality findings (数据质量) in the caller's areas

    Also the same ID number in two households, and submissions that name no known household (failed jobs too,
    for admins)."""
    principal = require_api_user()
    args = load(PageQuerySchema(), request.args)
    area = _area(args.get("area"))
    report = quality_report(db(), principal.scope, area=area, limit=args["limit"], offset=args["offset"],
                            failed_jobs=principal.user.role == "admin")
    body = {
        "findings": [{"household": number, "code": f.code, "message_zh": f.message_zh, "message_en": f.message_en,
                      "details": f.details} for f, number, _head in report["findings"].items],
        "duplicate_id_numbers": report["duplicate_id_numbers"],
        "unattached_submissions": [{**s, "received_at": s["received_at"].isoformat()}
                                   for s in report["unattached_submissions"]],
    }
    if "failed_jobs" in report:
        body["failed_jobs"] = [{"id": j.id, "submission_id": j.submission_id, "attempts": j.attempts,
                                "error": j.last_error} for j in report["failed_jobs"]]
    return jsonify(body)
