"""Review of submissions: the review history (comments) of a submission, setting its review state, and the
decisions on submissions sent from outside their household's areas (超出辖区)."""
from __future__ import annotations

from flask import jsonify, request
from marshmallow import Schema, fields, validate

from server.api import bp
from server.api.common import load
from server.api.openapi import documented, page_of
from server.api.schemas import PageQuerySchema, SubmissionSchema
from server.api.submissions import _one
from server.audit import record_area_decision, record_review
from server.auth import require_api_user
from server.errors import Problem
from server.models import VISIT_ROLES
from server.runtime import db, runtime
from sync.areas import area_by_code
from sync.review import (MAX_COMMENT, comments_for, decide_out_of_area, find_submission,
                         out_of_area_submissions, set_review)
from sync.feedback import reply
from sync.review_models import AREA_DECISIONS, REVIEW_STATES

#: who sets review states; anyone else may only reply on their own submissions
REVIEWERS = ("admin", "supervisor")


class ReviewSchema(Schema):
    state = fields.String(validate=validate.OneOf(REVIEW_STATES))
    comment = fields.String(validate=validate.Length(max=MAX_COMMENT))


class ReviewCommentSchema(Schema):
    author = fields.String(attribute="author_name")
    author_id = fields.Integer()
    body = fields.String()
    #: the review state set with the comment; null for a comment only
    review_state = fields.String(allow_none=True)
    #: the sender's reply to the review, not a review step
    from_submitter = fields.Boolean()
    created_at = fields.DateTime()


class AreaDecisionBodySchema(Schema):
    decision = fields.String(required=True, validate=validate.OneOf(AREA_DECISIONS))
    reason = fields.String(validate=validate.Length(max=MAX_COMMENT))


class AreaDecisionSchema(Schema):
    decision = fields.String()
    decided_by = fields.String(attribute="decided_by_name")
    decided_by_id = fields.Integer(attribute="decided_by")
    reason = fields.String()
    decided_at = fields.DateTime()


class OutOfAreaSchema(Schema):
    form_id = fields.String()
    instance_id = fields.String(attribute="submission.instance_id")
    household = fields.String(attribute="submission.household_number")
    head_name = fields.String()
    village = fields.String()
    submitter_id = fields.Integer(attribute="submission.submitter_id", allow_none=True)
    received_at = fields.DateTime(attribute="submission.received_at")
    #: null while it waits for a decision
    decision = fields.Nested(AreaDecisionSchema, allow_none=True)


def _with_comments(submission) -> dict:
    body = SubmissionSchema().dump(submission)
    body["comments"] = ReviewCommentSchema(many=True).dump(comments_for(db(), submission.id))
    return body


@bp.get("/submissions/<xml_form_id>/<instance_id>/comments")
@documented(response=ReviewCommentSchema(many=True))
def submission_comments(xml_form_id: str, instance_id: str):
    """The submission's review history: comments and review states set, oldest first"""
    submission = _one(xml_form_id, instance_id)
    return jsonify(ReviewCommentSchema(many=True).dump(comments_for(db(), submission.id)))


@bp.post("/submissions/<xml_form_id>/<instance_id>/review")
@documented(body=ReviewSchema, response=SubmissionSchema)
def review_submission(xml_form_id: str, instance_id: str):
    """Set the review state and/or add a comment (admins, supervisors), or reply to the review (its sender)

    JSON {"state": received|has_issues|approved|rejected, "comment": "…"}: either or both; answers the
    submission with its `comments`. A cadre may only comment, and only on a submission they sent: their reply
    to a returned submission (403 for a state or someone else's submission in their areas)."""
    principal = require_api_user(*VISIT_ROLES)
    body = load(ReviewSchema(), request.get_json(silent=True) or {})
    if principal.user.role not in REVIEWERS:
        if "state" in body:
            raise Problem(403, "review.reviewers_only", "只有督导可以设置审核状态。",
                          "Only supervisors may set a review state.")
        submission = _one(xml_form_id, instance_id)
        reply(db(), submission, body.get("comment"), principal.user)
        db().commit()
        return jsonify(_with_comments(submission))
    submission = _one(xml_form_id, instance_id, own=False)
    before = submission.review_state
    step = set_review(db(), submission, body.get("state"), body.get("comment"), principal.user)
    record_review(db(), xml_form_id, instance_id, before, step)
    db().commit()
    return jsonify(_with_comments(submission))


@bp.get("/out-of-area")
@documented(query=PageQuerySchema, response=page_of(OutOfAreaSchema))
def out_of_area_list():
    """Submissions sent from outside their household's areas (超出辖区), in the caller's areas

    Admins and supervisors; waiting ones first, then rejected ones."""
    principal = require_api_user("admin", "supervisor")
    args = load(PageQuerySchema(), request.args)
    area = area_by_code(db(), args["area"]) if "area" in args else None
    page = out_of_area_submissions(db(), principal.scope, area=area, limit=args["limit"], offset=args["offset"])
    items = [{"submission": s, "form_id": f, "head_name": h, "village": v, "decision": d}
             for s, f, h, v, d in page.items]
    return jsonify({"total": page.total, "items": OutOfAreaSchema(many=True).dump(items)})


@bp.post("/submissions/<xml_form_id>/<instance_id>/area-decision")
@documented(body=AreaDecisionBodySchema, response=AreaDecisionSchema)
def decide_area(xml_form_id: str, instance_id: str):
    """Accept an out-of-area submission into its household's record or reject it; decided once

    JSON {"decision": accepted|rejected, "reason": "…"}, by a supervisor or admin of the household's area."""
    principal = require_api_user("admin", "supervisor")
    body = load(AreaDecisionBodySchema(), request.get_json(silent=True) or {})
    submission = find_submission(db(), principal.scope, xml_form_id, instance_id)[0]
    made = decide_out_of_area(db(), submission, body["decision"], body.get("reason"), principal.user)
    record_area_decision(db(), xml_form_id, instance_id, made.decision, made.reason)
    db().commit()
    runtime().wake_worker()
    return jsonify(AreaDecisionSchema().dump(made))

