"""GET /api/v1/map: a month's households coloured by their visit state and the month's visit points, as GeoJSON.

The read model is server/readmodels.py, shared with the pages; this module is the HTTP handler.
"""
from __future__ import annotations

from flask import request
from marshmallow import Schema, fields, validate

from server.api import bp
from server.api.common import load
from server.api.openapi import documented
from server.api.schemas import MONTH
from server.auth import require_api_user
from server.models import VISIT_ROLES
from server.params import this_month
from server.readmodels import STATES, map_geojson
from server.runtime import db


class MapQuerySchema(Schema):
    month = fields.String(validate=MONTH, metadata={"description": "YYYY-MM, this month (China time) by default"})
    area = fields.String(metadata={
        "description": "an area code (town, village or group): its households and everything below it"})
    cadre = fields.String(metadata={"description": "the paired cadre's user name (households.cadre; only their own "
                                                   "visits count), or - for households without one"})
    state = fields.String(validate=validate.OneOf(STATES))


@bp.get("/map")
@documented(query=MapQuerySchema, response={"type": "object", "description": "a GeoJSON FeatureCollection"})
def map_data():
    """The month's households coloured by visit state and the month's visit points, as GeoJSON

    States: verified, questionable, not_visited. A household without a location is a Feature with a null
    geometry; questionable visits come with a LineString to their household; `summary` counts every state."""
    principal = require_api_user(*VISIT_ROLES)
    args = load(MapQuerySchema(), request.args)
    return map_geojson(db(), principal.scope, args.get("month") or this_month(), args.get("area"),
                       args.get("cadre"), args.get("state"))

