"""Feedback to the sender (sync/feedback.py): the submissions supervisors returned (有问题, 退回), as the cadre who
sent them and the supervisors of their areas see them, with the answer once there is one."""
from __future__ import annotations

from flask import jsonify, request
from marshmallow import Schema, fields, validate

from server.api import bp
from server.api.common import load
from server.api.openapi import documented, page_of
from server.api.schemas import PageQuerySchema
from server.auth import require_api_user
from server.models import VISIT_ROLES
from server.readmodels import resolve_area
from server.runtime import db
from sync.feedback import OPEN_STATES, list_feedback


class FeedbackQuerySchema(PageQuerySchema):
    #: waiting: returned, not answered (待整改); answered: answered, not yet reviewed again (已答复); both by default
    state = fields.String(validate=validate.OneOf(OPEN_STATES))


class AnswerSchema(Schema):
    #: edit (a new version of the submission), visit (a new submission of the same form for the household) or
    #: reply (a comment by the sender)
    kind = fields.String()
    at = fields.DateTime()
    #: the answering submission (edit, visit); null for a reply
    instance_id = fields.String(allow_none=True)
    #: the reply's words; null for an edit or a visit
    body = fields.String(allow_none=True)


class FeedbackSchema(Schema):
    form_id = fields.String()
    instance_id = fields.String(attribute="submission.instance_id")
    household = fields.String(attribute="submission.household_number", allow_none=True)
    head_name = fields.String(allow_none=True)
    visit_date = fields.Date(allow_none=True)
    submitter_id = fields.Integer(attribute="submission.submitter_id", allow_none=True)
    #: has_issues or rejected
    review_state = fields.String()
    #: waiting or answered
    state = fields.String()
    answered = fields.Boolean()
    #: the supervisors' latest words; empty when they set the state without a comment
    comment = fields.String()
    reviewer = fields.String()
    returned_at = fields.DateTime()
    answer = fields.Nested(AnswerSchema, allow_none=True)


@bp.get("/feedback")
@documented(query=FeedbackQuerySchema, response=page_of(FeedbackSchema))
def feedback_list():
    """Returned submissions (有问题, 退回) waiting for an answer or answered

    A cadre gets what was returned to them; a supervisor or admin what was returned in their areas. Waiting ones
    first, then newest return first."""
    principal = require_api_user(*VISIT_ROLES)
    args = load(FeedbackQuerySchema(), request.args)
    area = resolve_area(db(), principal.scope, args.get("area"))
    states = (args["state"],) if "state" in args else OPEN_STATES
    if principal.user.role == "cadre":
        page = list_feedback(db(), owner=principal.user.id, area=area, states=states, limit=args["limit"],
                             offset=args["offset"])
    else:
        page = list_feedback(db(), scope=principal.scope, area=area, states=states, limit=args["limit"],
                             offset=args["offset"])
    return jsonify({"total": page.total, "items": FeedbackSchema(many=True).dump(page.items)})
