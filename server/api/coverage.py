"""Visit coverage over the API: a month's coverage by area or cadre, and the households behind the numbers.

GET /api/v1/coverage?month=YYYY-MM&area=CODE[&by=area|cadre]
GET /api/v1/coverage/not-visited?month=&area=&cadre=[&limit=&offset=]
GET /api/v1/coverage/households?month=&area=&cadre=&state=[&limit=&offset=]

Any logged-in user; everything is limited to the caller's areas, and an area outside them answers 404.
"""
from __future__ import annotations

from flask import jsonify, request
from marshmallow import Schema, fields, validate

from server.api import bp
from server.api.common import load
from server.api.openapi import documented
from server.api.schemas import MONTH, offset_field
from server.auth import require_api_user
from server.models import VISIT_ROLES
from server.runtime import db
from sync.coverage import STATES, coverage_for_month, coverage_households, not_visited, this_month



# ---- in ---------------------------------------------------------------------------------------------------------

def month_field() -> fields.String:
    return fields.String(validate=MONTH, metadata={"description": "YYYY-MM; this month (China time) when absent"})


def area_field() -> fields.String:
    return fields.String(validate=validate.Length(min=1, max=32),
                         metadata={"description": "area code; the caller's whole view when absent"})


class CoverageQuerySchema(Schema):
    month = month_field()
    area = area_field()
    by = fields.String(validate=validate.OneOf(["area", "cadre"]), metadata={
        "description": "rows per child area (default above a village) or per cadre (default for a village)"})


class HouseholdsQuerySchema(Schema):
    month = month_field()
    area = area_field()
    cadre = fields.String(validate=validate.Length(min=1, max=64), metadata={
        "description": "a cadre's user name ('-': households without a cadre); only their own visits count"})
    state = fields.String(validate=validate.OneOf(STATES))
    limit = fields.Integer(load_default=1000, validate=validate.Range(min=1, max=5000))
    offset = offset_field()


class NotVisitedQuerySchema(HouseholdsQuerySchema):
    class Meta:
        exclude = ("state",)


# ---- out --------------------------------------------------------------------------------------------------------

class AreaSchema(Schema):
    code = fields.String()
    name = fields.String()
    level = fields.String()


class CountsSchema(Schema):
    assigned = fields.Function(lambda o: o.counts.assigned)
    verified = fields.Function(lambda o: o.counts.verified)
    questionable = fields.Function(lambda o: o.counts.questionable)
    not_visited = fields.Function(lambda o: o.counts.not_visited)
    verified_pct = fields.Function(lambda o: o.counts.verified_pct)
    questionable_pct = fields.Function(lambda o: o.counts.pct(o.counts.questionable))
    not_visited_pct = fields.Function(lambda o: o.counts.pct(o.counts.not_visited))
    visited_pct = fields.Function(lambda o: o.counts.pct(o.counts.visited))


class CoverageRowSchema(CountsSchema):
    kind = fields.String()
    #: area code or cadre user name
    key = fields.String(allow_none=True)
    name = fields.String()
    level = fields.String(allow_none=True)
    #: average verified percentage of the compared months
    previous_pct = fields.Float(allow_none=True)
    #: verified_pct − previous_pct, in percentage points
    change = fields.Float(allow_none=True)


class TrendPointSchema(CountsSchema):
    month = fields.String()


class CoverageSchema(Schema):
    month = fields.String()
    area = fields.Nested(AreaSchema, allow_none=True)
    breadcrumb = fields.List(fields.Nested(AreaSchema))
    by = fields.String()
    compared_months = fields.List(fields.String())
    total = fields.Nested(CoverageRowSchema)
    rows = fields.List(fields.Nested(CoverageRowSchema))
    trend = fields.List(fields.Nested(TrendPointSchema))


class HouseholdStateSchema(Schema):
    number = fields.String()
    head_name = fields.String()
    cadre = fields.String(allow_none=True)
    cadre_name = fields.String(allow_none=True)
    village = fields.Function(lambda h: {"code": h.village_code, "name": h.village_name})
    state = fields.String()
    last_visit = fields.Date(allow_none=True)


class CoverageHouseholdsSchema(Schema):
    month = fields.String()
    area = fields.Nested(AreaSchema, allow_none=True)
    breadcrumb = fields.List(fields.Nested(AreaSchema))
    cadre = fields.String(allow_none=True)
    state = fields.String(allow_none=True)
    total = fields.Integer()
    items = fields.List(fields.Nested(HouseholdStateSchema), attribute="households")


class CadreGroupSchema(Schema):
    cadre = fields.String(allow_none=True)
    name = fields.String()
    households = fields.List(fields.Nested(HouseholdStateSchema, exclude=("cadre", "cadre_name", "state")))


class NotVisitedSchema(CoverageHouseholdsSchema):
    class Meta:
        exclude = ("state", "items")

    cadres = fields.Function(lambda listing: CadreGroupSchema(many=True).dump(listing.by_cadre()))


# ---- handlers ---------------------------------------------------------------------------------------------------

@bp.get("/coverage")
@documented(query=CoverageQuerySchema, response=CoverageSchema)
def coverage():
    """Visit coverage of a month

    Per child area (or per cadre for a village) the assigned households, those visited with verified evidence,
    questionable and not visited, compared with the average of the previous three months, and the last six
    months' trend."""
    principal = require_api_user(*VISIT_ROLES)
    args = load(CoverageQuerySchema(), request.args)
    report = coverage_for_month(db(), principal.scope.area_ids, args.get("month") or this_month(), args.get("area"),
                                args.get("by"))
    return jsonify(CoverageSchema().dump(report))


@bp.get("/coverage/not-visited")
@documented(query=NotVisitedQuerySchema, response=NotVisitedSchema)
def coverage_not_visited():
    """The households not visited in the month, grouped by cadre (with a cadre: those the cadre did not visit)"""
    principal = require_api_user(*VISIT_ROLES)
    args = load(NotVisitedQuerySchema(), request.args)
    listing = not_visited(db(), principal.scope.area_ids, args.get("month") or this_month(), args.get("area"),
                          args.get("cadre"), args["limit"], args["offset"])
    return jsonify({**NotVisitedSchema().dump(listing), "limit": args["limit"], "offset": args["offset"]})


@bp.get("/coverage/households")
@documented(query=HouseholdsQuerySchema, response=CoverageHouseholdsSchema)
def coverage_household_list():
    """The households behind a coverage number, with their state in the month and their last visit"""
    principal = require_api_user(*VISIT_ROLES)
    args = load(HouseholdsQuerySchema(), request.args)
    listing = coverage_households(db(), principal.scope.area_ids, args.get("month") or this_month(), args.get("area"),
                                  args.get("cadre"), args.get("state"), args["limit"], args["offset"])
    return jsonify({**CoverageHouseholdsSchema().dump(listing), "limit": args["limit"], "offset": args["offset"]})

