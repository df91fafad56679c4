"""Feedback to the sender on the pages (sync/feedback.py): the list of returned submissions (a cadre's own; a
supervisor's areas'), the sender's reply form, and what the household's file, the household's submission page
and the review page show of a return and its answer (view values their templates include from feedback/)."""
from __future__ import annotations

from typing import Any

from flask import Blueprint, flash, redirect, render_template, request, url_for
from flask_babel import gettext, lazy_gettext
from sqlalchemy import select

from forms.models import Form
from server.errors import Problem
from server.models import VISIT_ROLES
from server.pages.common import REFUSED, current_principal, on_page, page, page_number
from server.readmodels import resolve_area
from server.runtime import db
from sync.feedback import (OPEN_STATES, FeedbackItem, answered_returns, feedback_counts, feedback_for, list_feedback,
                           reply)
from sync.models import Submission
from sync.review import MAX_COMMENT, comments_for

bp = Blueprint("feedback", __name__, url_prefix="/feedback")
PER_PAGE = 50
#: who reviews; on the pages anyone else who sent a submission replies to its review
REVIEWERS = ("admin", "supervisor")

FEEDBACK_LABELS = {"waiting": lazy_gettext("待整改"), "answered": lazy_gettext("已答复"),
                   "settled": lazy_gettext("已复核")}
ANSWER_LABELS = {"edit": lazy_gettext("修改了这份提交"), "visit": lazy_gettext("重新走访了该户"),
                 "reply": lazy_gettext("回复了说明")}
#: the review states, as the feedback shows them (退回 is what a cadre calls a rejected submission)
RETURN_LABELS = {"has_issues": lazy_gettext("有问题"), "rejected": lazy_gettext("退回"),
                 "received": lazy_gettext("已接收"), "approved": lazy_gettext("已通过")}


@bp.app_context_processor
def _labels() -> dict[str, Any]:
    """The labels and links the feedback templates use, wherever they are included (the cadre's home too)."""
    return {"feedback_labels": FEEDBACK_LABELS, "answer_labels": ANSWER_LABELS, "return_labels": RETURN_LABELS,
            "feedback_link": submission_link}


def submission_link(form_id: str, instance_id: str | None, number: str | None) -> str | None:
    """Where the caller reads a submission: the review page for reviewers, else the household's submission page
    (None without a household to file it under)."""
    if not instance_id:
        return None
    if current_principal().user.role in REVIEWERS:
        return url_for("review.submission", xml_form_id=form_id, instance_id=instance_id)
    if not number:
        return None
    return url_for("households.submission_page", number=number, form_id=form_id, instance_id=instance_id)


# ---- what other pages show -----------------------------------------------------------------------------------

def household_feedback(number: str) -> list[FeedbackItem]:
    """The household's returned submissions that wait for an answer or for the supervisor, for its file (the
    caller has already found the household in their areas)."""
    return list_feedback(db(), household=number, limit=None).items


def submission_feedback(submission: Submission, form_id: str) -> dict[str, Any]:
    """The review history, the return and its answer, what this submission answers, and whether the caller may
    reply: the values feedback/_notice.html and feedback/_history.html read."""
    user = current_principal().user
    return {"feedback": feedback_for(db(), submission), "comments": comments_for(db(), submission.id),
            "answers_returns": answered_returns(db(), submission), "feedback_form_id": form_id,
            "can_reply": user.role not in REVIEWERS and submission.submitter_id == user.id,
            "submission_instance": submission.instance_id, "submission_number": submission.household_number,
            "max_comment": MAX_COMMENT}


# ---- the list and the reply --------------------------------------------------------------------------------

@bp.get("/")
@page(*VISIT_ROLES)
def index():
    """Returned submissions: a cadre's own, a supervisor's areas'; waiting ones first."""
    principal = current_principal()
    state = request.args.get("state") or None
    if state not in OPEN_STATES:
        state = None
    area = resolve_area(db(), principal.scope, request.args.get("area") or None)
    number = page_number()
    mine = principal.user.role not in REVIEWERS
    owner, scope = (principal.user.id, None) if mine else (None, principal.scope)
    result = list_feedback(db(), owner=owner, scope=scope, area=area, states=(state,) if state else OPEN_STATES,
                           limit=PER_PAGE, offset=(number - 1) * PER_PAGE)
    counts = feedback_counts(db(), user=owner, scope=scope, area=area)
    db().commit()
    return render_template("feedback/list.html", items=result.items, total=result.total, state=state or "",
                           feedback_counts=counts,
                           pages={"number": number, "count": max(1, -(-result.total // PER_PAGE)),
                                  "total": result.total})


def own_or_scoped_submission(form_id: str, instance_id: str) -> Submission:
    """A submission in the caller's areas or sent by them (filed under another area when its household is
    outside theirs), else 404."""
    found = db().scalar(current_principal().scope.filter_own(
        select(Submission).join(Form, Submission.form_id == Form.id)
        .where(Form.xml_form_id == form_id, Submission.instance_id == instance_id),
        Submission.area_id, Submission.submitter_id))
    if found is None:
        raise Problem(404, "submission.not_found", "没有这份提交。", "There is no such submission.")
    return found


@bp.post("/reply/<form_id>/<path:instance_id>")
@page(*VISIT_ROLES)
def reply_page(form_id: str, instance_id: str):
    """The sender's reply to the review of their submission (as POST …/review with a comment); back to the page
    they wrote it on."""
    principal = current_principal()
    found = own_or_scoped_submission(form_id, instance_id)
    back = submission_link(form_id, instance_id, found.household_number) or url_for("feedback.index")
    if principal.user.role in REVIEWERS:
        raise Problem(403, "feedback.reviewers_review", "督导请在审核页面填写意见。",
                      "Supervisors comment on the review page.")
    if on_page(lambda: reply(db(), found, request.form.get("comment"), principal.user), ("invalid",)) is REFUSED:
        return redirect(back)
    db().commit()
    flash(gettext("已回复，督导会看到你的回复。"), "ok")
    return redirect(back)
