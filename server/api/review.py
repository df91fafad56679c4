"""Review of submissions: the review history (comments) of a submission, and setting its review state."""
from __future__ import annotations

from flask import jsonify, request
from marshmallow import Schema, fields, validate

from server.api import bp
from server.api.common import load
from server.api.openapi import SPEC, _op
from server.api.schemas import SubmissionSchema
from server.api.submissions import _one
from server.audit import record_review
from server.auth import require_api_user
from server.runtime import db
from sync.review import MAX_COMMENT, comments_for, set_review
from sync.review_models import REVIEW_STATES


class ReviewSchema(Schema):
    state = fields.String(validate=validate.OneOf(REVIEW_STATES))
    comment = fields.String(validate=validate.Length(max=MAX_COMMENT))


class ReviewCommentSchema(Schema):
    author = fields.String(attribute="author_name")
    author_id = fields.Integer()
    body = fields.String()
    #: the review state set with the comment; null for a comment only
    review_state = fields.String(allow_none=True)
    created_at = fields.DateTime()


def _with_comments(submission) -> dict:
    body = SubmissionSchema().dump(submission)
    body["comments"] = ReviewCommentSchema(many=True).dump(comments_for(db(), submission.id))
    return body


@bp.get("/submissions/<xml_form_id>/<instance_id>/comments")
def submission_comments(xml_form_id: str, instance_id: str):
    submission = _one(xml_form_id, instance_id)
    return jsonify(ReviewCommentSchema(many=True).dump(comments_for(db(), submission.id)))


@bp.post("/submissions/<xml_form_id>/<instance_id>/review")
def review_submission(xml_form_id: str, instance_id: str):
    """JSON {"state": received|has_issues|approved|rejected, "comment": "…"}: either or both."""
    principal = require_api_user("admin", "supervisor")
    body = load(ReviewSchema(), request.get_json(silent=True) or {})
    submission = _one(xml_form_id, instance_id)
    before = submission.review_state
    step = set_review(db(), submission, body.get("state"), body.get("comment"), principal.user)
    record_review(db(), xml_form_id, instance_id, before, step)
    db().commit()
    return jsonify(_with_comments(submission))


SPEC["paths"].update({
    "/submissions/{form_id}/{instance_id}/comments": {
        "get": _op("The submission's review history: comments and review states set, oldest first", "200",
                   ["form_id", "instance_id"])},
    "/submissions/{form_id}/{instance_id}/review": {
        "post": _op("Set the review state and/or add a comment (JSON {\"state\": received|has_issues|approved|"
                    "rejected, \"comment\": …}); answers the submission with its comments", "200",
                    ["form_id", "instance_id"], roles="admin, supervisor")},
})
