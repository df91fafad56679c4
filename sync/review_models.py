"""Supervisors' review of submissions: every review decision and comment, kept in order (who said what, when)."""
from __future__ import annotations

import datetime as dt
from typing import Optional

from sqlalchemy import Boolean, CheckConstraint, ForeignKey, Index, String, Text, and_, exists, false
from sqlalchemy.orm import Mapped, mapped_column

from server.db import Base, UTCDateTime, utcnow
from sync.models import Submission

REVIEW_STATES = ("received", "has_issues", "approved", "rejected")
#: the review states that send a submission back to its sender (有问题, 退回) until they answer (sync/feedback.py)
RETURNING_STATES = ("has_issues", "rejected")
AREA_DECISIONS = ("accepted", "rejected")


class ReviewComment(Base):
    """One review step on a submission: a comment, the review state set with it, or both; or the sender's reply
    to a review (a comment only). Never changed later: the list of them is the submission's review history, and
    the submission's review_state is the latest state set."""

    __tablename__ = "review_comments"
    __table_args__ = (
        CheckConstraint("review_state IS NULL OR review_state IN ('received','has_issues','approved','rejected')",
                        name="review_state_known"),
        CheckConstraint("review_state IS NOT NULL OR body <> ''", name="says_something"),
        CheckConstraint("NOT from_submitter OR review_state IS NULL", name="reply_sets_no_state"),
        Index("ix_review_comments_submission_created", "submission_id", "created_at"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    #: the submission reviewed
    submission_id: Mapped[int] = mapped_column(ForeignKey("submissions.id", ondelete="CASCADE"))
    #: the reviewer's account (the sender's, for a reply)
    author_id: Mapped[int] = mapped_column(ForeignKey("users.id"), index=True)
    #: the reviewer's name as it was shown when they wrote (display name, else user name)
    author_name: Mapped[str] = mapped_column(String(100))
    #: the comment in the reviewer's words; empty when only the state changed
    body: Mapped[str] = mapped_column(Text, default="")
    #: the review state set with this comment; null when it is a comment only
    review_state: Mapped[Optional[str]] = mapped_column(String(16))
    #: written by the submission's sender answering a review (a reply, never a review step of its own)
    from_submitter: Mapped[bool] = mapped_column(Boolean, default=False, server_default=false())
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow)


class AreaDecision(Base):
    """A supervisor's decision on a submission sent from outside its household's areas (超出辖区): accepted into
    the household's record, or rejected (it stays stored, listed as rejected). A fact of its own, never changed
    later and never written into the submission."""

    __tablename__ = "area_decisions"
    __table_args__ = (CheckConstraint("decision IN ('accepted','rejected')", name="decision_known"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    #: the submission decided on; one decision each
    submission_id: Mapped[int] = mapped_column(ForeignKey("submissions.id", ondelete="CASCADE"), unique=True)
    #: accepted or rejected
    decision: Mapped[str] = mapped_column(String(10))
    #: the deciding supervisor's (or admin's) account
    decided_by: Mapped[int] = mapped_column(ForeignKey("users.id"))
    #: their name as shown when they decided (display name, else user name)
    decided_by_name: Mapped[str] = mapped_column(String(100))
    #: why, in their words; may be empty
    reason: Mapped[str] = mapped_column(Text, default="")
    decided_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow)


#: a submission the reconciler leaves out of its household's record: sent from outside the household's areas and
#: not accepted by a supervisor (yet)
HELD_OUT_OF_AREA = and_(Submission.out_of_area, ~exists().where(AreaDecision.submission_id == Submission.id,
                                                                AreaDecision.decision == "accepted"))
