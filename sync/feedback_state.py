"""Whether a returned submission waits for its sender (waiting, 待整改), was answered and not yet reviewed again
(answered, 已答复), or is settled (the supervisor has reviewed the answer): the rule, and the two columns
of `submissions` that keep its result (`returned_at`, `feedback_state`) so that counting a city's returned
submissions reads one index instead of deciding each one again.

The rule (sync/feedback.py says it in words) is derived from facts a rebuild never touches: review steps,
submissions and their arrival times. The columns are only its result, written again for the submissions a new
fact can change, by the code that records the fact:

- a review step on a submission (sync/review.py `set_review`): that submission, and the returned ones it
  answers (reviewing an answer settles what it answered);
- the sender's reply (sync/feedback.py `reply`): that submission;
- a new submission, when the worker first reads it (sync/jobs.py): the returned ones it answers.

`refresh_feedback` always decides by the rule itself, so a refresh of any set of rows leaves them right; a
worker that starts fills rows that have no result yet (rows returned before these columns existed).
"""
from __future__ import annotations

from typing import Any, Iterable

from sqlalchemy import and_, case, exists, func, or_, select, union, update
from sqlalchemy.orm import Session, aliased
from sqlalchemy.sql import ColumnElement, Select

from sync.models import Submission
from sync.review_models import RETURNING_STATES, ReviewComment

def returned_rows(*where: ColumnElement[bool]) -> Any:
    """The returned submissions (with these conditions) and the time they were returned: their latest review
    step by a supervisor."""
    returned_at = (select(func.max(ReviewComment.created_at))
                   .where(ReviewComment.submission_id == Submission.id, ReviewComment.from_submitter.is_(False))
                   .scalar_subquery())
    return (select(Submission.id, Submission.form_id, Submission.root_instance_id, Submission.household_number,
                   Submission.submitter_id, Submission.received_at, returned_at.label("returned_at"))
            .where(Submission.review_state.in_(RETURNING_STATES), *where).subquery("returned"))


def _edits(returned: Any, answer: Any) -> ColumnElement[bool]:
    """`answer` (a Submission alias) is an edit of the returned submission received after its return."""
    return and_(answer.root_instance_id == returned.c.root_instance_id, answer.form_id == returned.c.form_id,
                answer.id != returned.c.id, answer.received_at > returned.c.returned_at)


def _new_visits(returned: Any, answer: Any) -> ColumnElement[bool]:
    """`answer` is a new submission of the same form about the same household by the same sender, received after
    the return."""
    return and_(answer.household_number == returned.c.household_number,
                answer.submitter_id == returned.c.submitter_id, answer.form_id == returned.c.form_id,
                answer.id != returned.c.id, answer.received_at > returned.c.returned_at)


#: the two ways a submission answers a returned one, each looked up by its own index (the edit chain's, the
#: household's): as one OR, PostgreSQL reads every submission of the form, or every one received since, per row
ANSWERING = (_edits, _new_visits)


def answers_of(returned: Any, answer_id: int | None = None) -> Any:
    """(returned_id, same_chain, answer_id, instance_id, received_at) for each submission answering one of the
    `returned` rows (only those of submission `answer_id` when given)."""
    branches = []
    for answering in ANSWERING:
        answer = aliased(Submission, name="answer")
        branch = (select(returned.c.id.label("returned_id"),
                         (answer.root_instance_id == returned.c.root_instance_id).label("same_chain"),
                         answer.id.label("answer_id"), answer.instance_id, answer.received_at)
                  .join(answer, answering(returned, answer)))
        branches.append(branch if answer_id is None else branch.where(answer.id == answer_id))
    return union(*branches).subquery("answers")


def derived_states(returned: Any) -> Select:
    """(id, returned_at, state) of the `returned` rows, by the rule."""
    def answered(answering) -> ColumnElement[bool]:
        answer = aliased(Submission, name="answer")
        return exists(select(answer.id).where(answering(returned, answer)))

    def reviewed(answering) -> ColumnElement[bool]:
        answer, step = aliased(Submission, name="answer"), aliased(ReviewComment, name="step")
        return exists(select(answer.id).join(step, step.submission_id == answer.id)
                      .where(answering(returned, answer), step.from_submitter.is_(False)))

    step = aliased(ReviewComment, name="step")
    by_reply = exists(select(step.id).where(step.submission_id == returned.c.id, step.from_submitter.is_(True),
                                            step.created_at > returned.c.returned_at))
    state = case((or_(*(reviewed(a) for a in ANSWERING)), "settled"),
                 (or_(*(answered(a) for a in ANSWERING), by_reply), "answered"), else_="waiting")
    return select(returned.c.id, returned.c.returned_at, state.label("state")).where(
        returned.c.returned_at.is_not(None))


def refresh_feedback(session: Session, submission_ids: Iterable[int]) -> None:
    """Decide these submissions' feedback again by the rule and keep the result (None for one not returned)."""
    ids = set(submission_ids)
    if not ids:
        return
    session.flush()
    decided = {row.id: (row.returned_at, row.state)
               for row in session.execute(derived_states(returned_rows(Submission.id.in_(ids))))}
    # one statement for them all (an UPDATE by primary key, sent as a batch)
    session.execute(update(Submission), [
        {"id": submission_id, "returned_at": decided.get(submission_id, (None, None))[0],
         "feedback_state": decided.get(submission_id, (None, None))[1]} for submission_id in sorted(ids)])
    for loaded in list(session.identity_map.values()):
        if isinstance(loaded, Submission) and loaded.id in ids:
            session.expire(loaded, ["returned_at", "feedback_state"])


def answered_by(session: Session, submission_ids: Iterable[int]) -> set[int]:
    """The returned submissions that any of these submissions may answer (an edit in their chain, or a new
    submission of the same form and household by their sender); the rule then says whether they do."""
    ids = list(set(submission_ids))
    if not ids:
        return set()
    new, returned = aliased(Submission, name="new"), aliased(Submission, name="returned")
    returning = returned.review_state.in_(RETURNING_STATES)
    same_form = and_(returned.form_id == new.form_id, returned.id != new.id)
    chains = (select(returned.id).join(new, and_(returned.root_instance_id == new.root_instance_id, same_form))
              .where(new.id.in_(ids), returning))
    households = (select(returned.id)
                  .join(new, and_(returned.submitter_id == new.submitter_id,
                                  returned.household_number == new.household_number, same_form))
                  .where(new.id.in_(ids), returning))
    return set(session.scalars(union(chains, households)))


def refresh_after_step(session: Session, submission_id: int) -> None:
    """After a review step or a reply on a submission: it, and the returned submissions it answers."""
    refresh_feedback(session, {submission_id} | answered_by(session, [submission_id]))


def refresh_unset(session: Session, batch: int = 1000) -> int:
    """Decide the returned submissions that have no result yet (returned before the columns existed), in batches
    along the id; how many were looked at."""
    seen, last = 0, 0
    while True:
        ids = session.scalars(select(Submission.id).where(Submission.review_state.in_(RETURNING_STATES),
                                                          Submission.feedback_state.is_(None), Submission.id > last)
                              .order_by(Submission.id).limit(batch)).all()
        refresh_feedback(session, ids)
        seen += len(ids)
        if len(ids) < batch:
            return seen
        last = ids[-1]
