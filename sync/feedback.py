"""Feedback to the sender: a submission a supervisor marked 有问题 or 退回 goes back to the account that sent it,
until they answer it; the supervisor then sees the answer.

Everything here is derived from facts that a rebuild never touches (review steps, submissions and their arrival
times), never from a flag someone has to keep up to date:

- A submission is *returned* while its review state is has_issues or rejected. It was returned at its latest
  review step (a supervisor's state or comment): a further comment after an answer asks again.
- It is *answered* by what its sender does after that time: an edit of it (a later version of the same chain,
  meta/deprecatedID), a new submission of the same form about the same household by the same account (a new
  visit: the newest answers every returned one of that household, form and sender), or a reply comment on it.
- An answer waits for the supervisor until they review the answering submission (any review step on it) or change
  the returned one's state; a reply alone waits until they change the state or comment again. Reviewed answers
  are *settled* and leave both sides' lists.

It goes back to the sender only, not also to the household's paired cadre when someone else sent it: the sender
is who can edit it (the instance lives on their phone) and who did what the comment is about (the photo they
took); the household's file shows the notice to everyone who sees the household.
"""
from __future__ import annotations

import dataclasses
import datetime as dt
from typing import Any

from sqlalchemy import case, func, select
from sqlalchemy.orm import Session
from sqlalchemy.sql import Select

from forms.models import Form
from server.errors import DomainError
from sync.models import Area, Household, Submission
from sync.records import Visit
from sync.review import MAX_COMMENT, Author, Page, Scope
from sync.feedback_state import answers_of, refresh_after_step, returned_rows
from sync.review_models import RETURNING_STATES, ReviewComment

#: what the lists show unless asked otherwise: what someone still has to act on
OPEN_STATES = ("waiting", "answered")


@dataclasses.dataclass(frozen=True)
class Answer:
    """How the sender answered a returned submission: an edit, a new visit (a new submission of the same form
    for the household) or a reply comment."""

    #: edit, visit or reply
    kind: str
    at: dt.datetime
    #: the answering submission's instance id (edit, visit); None for a reply
    instance_id: str | None = None
    #: the reply's words; None for an edit or a visit
    body: str | None = None


@dataclasses.dataclass(frozen=True)
class FeedbackItem:
    """One returned submission as both sides see it."""

    submission: Submission
    form_id: str
    head_name: str | None
    #: the visit's date when it is a visit the reconciler has read; None otherwise
    visit_date: dt.date | None
    #: waiting, answered or settled
    state: str
    returned_at: dt.datetime
    #: the supervisors' latest words on it (empty when they set the state without a comment)
    comment: str
    reviewer: str
    #: the newest answer, None while it waits
    answer: Answer | None

    @property
    def answered(self) -> bool:
        return self.state != "waiting"

    @property
    def review_state(self) -> str:
        return self.submission.review_state


# ---- the kept states (sync/feedback_state.py decides them) ------------------------------------------------------

def _states(owner: int | None = None, scope: Scope | None = None, area: Area | None = None,
            household: str | None = None) -> Any:
    """(id, returned_at, state) of the returned submissions of this sender, in these areas, about this
    household, read from the kept states."""
    statement = select(Submission.id, Submission.returned_at, Submission.feedback_state.label("state")).where(
        Submission.review_state.in_(RETURNING_STATES), Submission.feedback_state.is_not(None))
    if owner is not None:
        statement = statement.where(Submission.submitter_id == owner)
    if scope is not None:
        statement = scope.filter(statement, Submission.area_id)
    if area is not None:
        statement = statement.where(Submission.area_id.in_(select(Area.id).where(Area.path.startswith(area.path))))
    if household is not None:
        statement = statement.where(Submission.household_number == household)
    return statement.subquery("feedback")


def returned_ids(scope: Scope, states: tuple[str, ...] = OPEN_STATES, area: Area | None = None) -> Select:
    """The ids of the returned submissions in the caller's areas in these feedback states, for a list to keep
    (sync.review.list_submissions' `among`)."""
    feedback = _states(scope=scope, area=area)
    return select(feedback.c.id).where(feedback.c.state.in_(states))


def states_of(session: Session, submission_ids: list[int]) -> dict[int, str]:
    """The feedback state of those of these submissions that are returned, by id (a list's badges)."""
    if not submission_ids:
        return {}
    return dict(session.execute(select(Submission.id, Submission.feedback_state).where(
        Submission.id.in_(set(submission_ids)), Submission.review_state.in_(RETURNING_STATES),
        Submission.feedback_state.is_not(None))).all())


def feedback_counts(session: Session, user: Author | int | None = None, scope: Scope | None = None,
                    area: Area | None = None) -> dict[str, int]:
    """{"waiting": returned and not answered, "answered": answered and not reviewed again}: for a sender (`user`,
    their cadre home; an account or its id) or for the areas of a scope (a supervisor's)."""
    owner = user if isinstance(user, int) or user is None else user.id
    feedback = _states(owner=owner, scope=scope, area=area)
    counts = dict(session.execute(select(feedback.c.state, func.count()).group_by(feedback.c.state)).all())
    return {state: counts.get(state, 0) for state in OPEN_STATES}


def list_feedback(session: Session, *, owner: int | None = None, scope: Scope | None = None,
                  area: Area | None = None, household: str | None = None, states: tuple[str, ...] = OPEN_STATES,
                  limit: int | None = 50, offset: int = 0) -> Page:
    """Returned submissions of a sender (`owner`, an account id), in a scope's areas or about a household, those
    waiting first, newest return first, as FeedbackItems."""
    feedback = _states(owner=owner, scope=scope, area=area, household=household)
    statement = (select(Submission, Form.xml_form_id, Household.head_name, Visit.visit_date, feedback.c.state,
                        feedback.c.returned_at)
                 .join(feedback, feedback.c.id == Submission.id)
                 .join(Form, Submission.form_id == Form.id)
                 .outerjoin(Household, Household.number == Submission.household_number)
                 .outerjoin(Visit, Visit.submission_id == Submission.id)
                 .where(feedback.c.state.in_(states)))
    total = session.scalar(select(func.count()).select_from(statement.subquery())) or 0
    ordered = statement.order_by(case((feedback.c.state == "waiting", 0), else_=1), feedback.c.returned_at.desc(),
                                 Submission.id.desc()).offset(offset)
    rows = session.execute(ordered if limit is None else ordered.limit(limit)).all()
    return Page(total, _items(session, rows))


def returned_to(session: Session, user_id: int, limit: int | None = None) -> list[FeedbackItem]:
    """What was sent back to this account and is not settled (waiting first): for the cadre's home."""
    return list_feedback(session, owner=user_id, limit=limit).items


def feedback_for(session: Session, submission: Submission) -> FeedbackItem | None:
    """The submission's feedback item whatever its state (settled too), or None when it is not returned."""
    feedback = _states()
    row = session.execute(select(Submission, Form.xml_form_id, Household.head_name, Visit.visit_date,
                                 feedback.c.state, feedback.c.returned_at)
                          .join(feedback, feedback.c.id == Submission.id)
                          .join(Form, Submission.form_id == Form.id)
                          .outerjoin(Household, Household.number == Submission.household_number)
                          .outerjoin(Visit, Visit.submission_id == Submission.id)
                          .where(Submission.id == submission.id)).first()
    return _items(session, [row])[0] if row is not None else None


def answered_returns(session: Session, submission: Submission) -> list[tuple[str, str]]:
    """The returned submissions this one answers (form id, instance id): the edit's or new visit's link back."""
    answers = answers_of(returned_rows(), submission.id)
    return [tuple(row) for row in session.execute(
        select(Form.xml_form_id, Submission.instance_id)
        .join(answers, answers.c.returned_id == Submission.id).join(Form, Submission.form_id == Form.id)
        .order_by(Submission.returned_at, Submission.id))]


def _items(session: Session, rows: list[Any]) -> list[FeedbackItem]:
    """FeedbackItems for rows of (Submission, form id, head, visit date, state, returned_at): the words and the
    answers of the page's submissions, read in two queries."""
    ids = [row[0].id for row in rows]
    if not ids:
        return []
    steps: dict[int, list[ReviewComment]] = {}
    for step in session.scalars(select(ReviewComment).where(ReviewComment.submission_id.in_(ids))
                                .order_by(ReviewComment.created_at, ReviewComment.id)):
        steps.setdefault(step.submission_id, []).append(step)
    returned = returned_rows(Submission.id.in_(ids))
    found = answers_of(returned)
    answers: dict[int, Answer] = {}
    for returned_id, same_chain, instance_id, received_at in session.execute(
            select(found.c.returned_id, found.c.same_chain, found.c.instance_id, found.c.received_at)
            .order_by(found.c.received_at, found.c.answer_id)):
        answers[returned_id] = Answer("edit" if same_chain else "visit", received_at, instance_id)
    items = []
    for submission, form_id, head, visit_date, state, returned_at in rows:
        history = steps.get(submission.id, [])
        reviews = [s for s in history if not s.from_submitter]
        said = [s for s in reviews if s.body]
        replies = [s for s in history if s.from_submitter and s.created_at > returned_at]
        answer_made = answers.get(submission.id)
        if replies and (answer_made is None or replies[-1].created_at > answer_made.at):
            answer_made = Answer("reply", replies[-1].created_at, None, replies[-1].body)
        items.append(FeedbackItem(submission, form_id, head, visit_date, state, returned_at,
                                  said[-1].body if said else "", reviews[-1].author_name if reviews else "",
                                  answer_made if state != "waiting" else None))
    return items


# ---- the sender's reply ------------------------------------------------------------------------------------

def reply(session: Session, submission: Submission, comment: str | None, user: Author) -> ReviewComment:
    """The sender's reply to the review of their own submission: a comment in its review history that sets no
    state. Anyone else's submission is refused (the caller has already made another area's one a 404)."""
    body = (comment or "").strip()
    if submission.submitter_id != user.id:
        raise DomainError("forbidden", "feedback.not_sender", "只能回复自己提交的表单。",
                          "You may reply only on a submission you sent.")
    if not body:
        raise DomainError("invalid", "feedback.reply_empty", "请填写回复。", "Write a reply.")
    if len(body) > MAX_COMMENT:
        raise DomainError("invalid", "review.comment_too_long", f"意见最多 {MAX_COMMENT} 个字。",
                          f"A comment may have at most {MAX_COMMENT} characters.")
    step = ReviewComment(submission_id=submission.id, author_id=user.id,
                         author_name=(user.display_name or user.username)[:100], body=body, review_state=None,
                         from_submitter=True)
    session.add(step)
    session.flush()
    refresh_after_step(session, submission.id)
    return step
