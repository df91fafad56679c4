"""GET /api/v1/map: a month's households coloured by their visit state and the month's visit points, as GeoJSON.

The read model is server/readmodels.py, shared with the pages; this module is the HTTP handler.
"""
from __future__ import annotations

from flask import request
from marshmallow import Schema, fields, validate

from server.api import bp
from server.api.common import load
from server.api.openapi import SPEC, _op
from server.api.schemas import MONTH, MONTH_PATTERN
from server.auth import require_api_user
from server.params import this_month
from server.readmodels import STATES, map_geojson
from server.runtime import db


class MapQuerySchema(Schema):
    month = fields.String(validate=MONTH)
    #: an area code (town, village or group): its households and everything below it
    area = fields.String()
    #: the paired cadre's user name (households.cadre)
    cadre = fields.String()
    state = fields.String(validate=validate.OneOf(STATES))


@bp.get("/map")
def map_data():
    principal = require_api_user()
    args = load(MapQuerySchema(), request.args)
    return map_geojson(db(), principal.scope, args.get("month") or this_month(), args.get("area"),
                       args.get("cadre"), args.get("state"))


SPEC["paths"].update({
    "/map": {"get": {
        **_op("The month's households coloured by visit state (verified, questionable, not_visited) and the "
              "month's visit points, as a GeoJSON FeatureCollection; a household without a location is a "
              "Feature with a null geometry; questionable visits come with a LineString to their household; "
              "`summary` counts every state", "200"),
        "parameters": [
            {"name": "month", "in": "query", "schema": {"type": "string", "pattern": MONTH_PATTERN},
             "description": "YYYY-MM, this month (China time) by default"},
            {"name": "area", "in": "query", "schema": {"type": "string"}, "description": "area code"},
            {"name": "cadre", "in": "query", "schema": {"type": "string"},
             "description": "paired cadre's user name (only their own visits count), or - for households without one"},
            {"name": "state", "in": "query", "schema": {"type": "string", "enum": list(STATES)}}]}},
})
