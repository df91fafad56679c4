"""GET /api/v1/audit: the audit log for admins, newest first, with the admin page's filters (server/audit.py)."""
from __future__ import annotations

import datetime as dt

from flask import jsonify, request
from marshmallow import Schema, fields, validate

from server.api import bp
from server.api.common import load
from server.api.schemas import offset_field
from server.api.openapi import documented, page_of
from server.audit import ACTIONS, day_bounds, entries
from server.auth import require_api_user
from server.params import CHINA
from server.runtime import db

MAX_LIMIT = 500


class AuditQuerySchema(Schema):
    action = fields.String(validate=validate.OneOf(list(ACTIONS)))
    #: a user name, or "cli"
    actor = fields.String(validate=validate.Length(min=1, max=64))
    #: first and last calendar day (China time), YYYY-MM-DD, both included
    from_ = fields.Date(data_key="from", validate=validate.Range(min=dt.date(2000, 1, 1), max=dt.date(9998, 12, 31)))
    to = fields.Date(validate=validate.Range(min=dt.date(2000, 1, 1), max=dt.date(9998, 12, 31)))
    limit = fields.Integer(load_default=100, validate=validate.Range(min=1, max=MAX_LIMIT))
    offset = offset_field()


class AuditEntrySchema(Schema):
    id = fields.Integer()
    at = fields.DateTime()
    actor = fields.String()
    actor_id = fields.Integer(allow_none=True)
    address = fields.String(allow_none=True)
    action = fields.String()
    target = fields.String()
    details = fields.Dict()


@bp.get("/audit")
@documented(query=AuditQuerySchema, response=page_of(AuditEntrySchema))
def audit_log():
    """The audit log, newest first (admins)

    Who did which privileged action, when, from where, what changed."""
    require_api_user("admin")
    args = load(AuditQuerySchema(), request.args)
    start, end = day_bounds(args.get("from_"), args.get("to"), CHINA)
    total, rows = entries(db(), action=args.get("action"), actor=args.get("actor"), start=start, end=end,
                          limit=args["limit"], offset=args["offset"])
    return jsonify({"total": total, "items": AuditEntrySchema(many=True).dump(rows)})

