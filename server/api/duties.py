"""Visiting duties by role over the API (走访职责, 遍访): per village, the paired cadres with households not visited
this month, the households no village or town secretary visited within the period, and the work team's recorded
days in the village.

GET /api/v1/coverage/duties?month=YYYY-MM&area=CODE

Any logged-in user; limited to the caller's areas, and an area outside them answers 404. The household lists come
for a village (or a group); above it each village gives its counts and the people behind them.
"""
from __future__ import annotations

from flask import jsonify, request
from marshmallow import Schema, fields

from server.api import bp
from server.api.common import load
from server.api.coverage import AreaSchema, area_field, month_field
from server.api.openapi import documented
from server.auth import require_api_user
from server.models import VISIT_ROLES
from server.runtime import db, runtime
from sync.coverage import this_month
from sync.duties import duties_for_month
from sync.visitor_roles import DUTIES

#: a view of this level or below lists the households; above it, only their numbers
LISTING_LEVELS = ("village", "group")


class DutiesQuerySchema(Schema):
    month = month_field()
    area = area_field()


class PersonSchema(Schema):
    username = fields.String()
    name = fields.String()


class DueHouseholdSchema(Schema):
    number = fields.String()
    head_name = fields.String()


class CadreDutySchema(Schema):
    cadre = fields.Nested(PersonSchema)
    assigned = fields.Integer()
    missing_count = fields.Function(lambda c: len(c.missing))
    missing = fields.List(fields.Nested(DueHouseholdSchema), metadata={"description": "for a village only"})


class SecretaryDutySchema(Schema):
    duty = fields.String(metadata={"enum": list(DUTIES)})
    first = fields.String(metadata={"description": "the period's first month"})
    last = fields.String()
    accounts = fields.List(fields.Nested(PersonSchema), metadata={
        "description": "the active accounts with this role whose areas cover the village"})
    missing_count = fields.Function(lambda s: len(s.missing))
    missing = fields.List(fields.Nested(DueHouseholdSchema), metadata={"description": "for a village only"})


class WorkTeamMemberSchema(Schema):
    member = fields.Nested(PersonSchema)
    visits = fields.Integer()
    days = fields.Integer(metadata={"description": "distinct days with a visit or an attempt in the village"})
    enough = fields.Boolean()


class VillageDutiesSchema(Schema):
    village = fields.Nested(AreaSchema)
    town = fields.Nested(AreaSchema, allow_none=True)
    households = fields.Integer()
    paired_missing = fields.Integer()
    cadres = fields.List(fields.Nested(CadreDutySchema))
    secretaries = fields.List(fields.Nested(SecretaryDutySchema))
    work_team = fields.List(fields.Nested(WorkTeamMemberSchema))
    work_team_days = fields.Integer(metadata={"description": "days a month the work team must live in the village"})


class DutiesSchema(Schema):
    month = fields.String()
    area = fields.Nested(AreaSchema, allow_none=True)
    breadcrumb = fields.List(fields.Nested(AreaSchema))
    villages = fields.List(fields.Nested(VillageDutiesSchema))


@bp.get("/coverage/duties")
@documented(query=DutiesQuerySchema, response=DutiesSchema)
def coverage_duties():
    """Visiting duties by role in a month (遍访)

    Per village: the paired cadres and their households not visited in the month by the cadre's own account; for
    the village and the town secretary, the households nobody with that role (as it was when the visit was
    received) visited within the configured period; the work team's visits and days in the village. Household
    lists only for a village."""
    principal = require_api_user(*VISIT_ROLES)
    args = load(DutiesQuerySchema(), request.args)
    report = duties_for_month(db(), principal.scope.area_ids, args.get("month") or this_month(),
                              runtime().queue.rules.duties, args.get("area"))
    exclude = () if report.area is not None and report.area.level in LISTING_LEVELS else (
        "villages.cadres.missing", "villages.secretaries.missing")
    return jsonify(DutiesSchema(exclude=exclude).dump(report))
