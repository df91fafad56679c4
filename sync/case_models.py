"""Problem cases (问题清单) as stored: the derived `cases` table the reconciler rewrites per household, and the human
decisions on them (`case_decisions`), which are the reconciler's input, never derived, never rebuilt away."""
from __future__ import annotations

import datetime as dt
from typing import Any, Optional

from sqlalchemy import JSON, CheckConstraint, ForeignKey, Index, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from server.db import Base, UTCDateTime, utcnow

CASE_STATES = ("open", "reopened", "closed", "signed_off")
#: the states in which a case still waits for work
OPEN_STATES = ("open", "reopened")
DECISION_KINDS = ("sign_off", "measure")


class Case(Base):
    """A problem of a household found by a visit or an assessment, followed until it is solved (sync/cases.py).
    Derived: its key is stable (household, kind, subject), so its decisions find it again after a rebuild."""

    __tablename__ = "cases"
    __table_args__ = (
        CheckConstraint("state IN ('open','reopened','closed','signed_off')", name="state_known"),
        # open cases under an area by kind and age (a supervisor's counts, the list's filters): the index answers
        # the counts alone
        Index("ix_cases_area_state_kind_opened", "area_id", "state", "kind", "opened_at"),
        # a cadre's open cases
        Index("ix_cases_cadre_state", "cadre", "state"),
    )

    #: sha256 of household number, kind and subject (sync.cases.case_key)
    key: Mapped[str] = mapped_column(String(20), primary_key=True)
    household_id: Mapped[int] = mapped_column(ForeignKey("households.id", ondelete="CASCADE"), index=True)
    #: the household's area, for scoping
    area_id: Mapped[int] = mapped_column(ForeignKey("areas.id"))
    #: one of sync.cases.KINDS, e.g. water, uninsured, dangerous_house
    kind: Mapped[str] = mapped_column(String(24))
    #: what in the household it is about: a member's name for an uninsured member, a finding's code for a
    #: data-quality case, "" for the household itself
    subject: Mapped[str] = mapped_column(String(100), default="")
    #: one of CASE_STATES
    state: Mapped[str] = mapped_column(String(10))
    #: when the current episode began: the first observation of the problem, or its observation again after closing
    opened_at: Mapped[dt.datetime] = mapped_column(UTCDateTime)
    #: the submission (instanceID) that observed it then
    source_instance_id: Mapped[str] = mapped_column(String(255))
    #: when it was closed or signed off; null while open
    closed_at: Mapped[Optional[dt.datetime]] = mapped_column(UTCDateTime)
    #: the submission whose observation showed it solved; null when open or signed off
    closing_instance_id: Mapped[Optional[str]] = mapped_column(String(255))
    #: the sign-off (case_decisions.id) that closed it; null when open or closed by an observation
    closing_decision_id: Mapped[Optional[int]] = mapped_column()
    #: user name of the household's paired cadre (households.cadre), to whom the case is assigned
    cadre: Mapped[Optional[str]] = mapped_column(String(64))
    #: when the latest measure was taken (a later visit's help, or one entered by hand); null when none
    last_measure_at: Mapped[Optional[dt.datetime]] = mapped_column(UTCDateTime)
    #: every step, oldest first: [{"at", "event": opened|measure|closed|signed_off|reopened, "instance_id"?,
    #: "decision_id"?, "by"?, "text"?, "help"?, "details"?}]
    history: Mapped[list[Any]] = mapped_column(JSON)


class CaseDecision(Base):
    """A person's decision on a case: a supervisor's sign-off (销号) with its reason, or a measure entered by hand.
    Never changed later; the reconciler reads them with the observations."""

    __tablename__ = "case_decisions"
    __table_args__ = (CheckConstraint("kind IN ('sign_off','measure')", name="kind_known"),
                      CheckConstraint("text <> ''", name="says_something"))

    id: Mapped[int] = mapped_column(primary_key=True)
    #: the case's key (not a foreign key: the derived row is deleted and written again at every reconcile)
    case_key: Mapped[str] = mapped_column(String(20), index=True)
    household_id: Mapped[int] = mapped_column(ForeignKey("households.id", ondelete="CASCADE"), index=True)
    #: sign_off or measure
    kind: Mapped[str] = mapped_column(String(10))
    #: the sign-off's reason, or the measure taken, in the person's words
    text: Mapped[str] = mapped_column(Text)
    #: the deciding account
    by_id: Mapped[int] = mapped_column(ForeignKey("users.id"))
    #: their name as shown when they decided (display name, else user name)
    by_name: Mapped[str] = mapped_column(String(100))
    at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow)
