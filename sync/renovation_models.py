"""The renovation ledger (危房改造台账) as stored: the derived `renovations` table the reconciler rewrites per household
(sync/renovation.py), and the facts people enter on it (`renovation_entries`: payments to the 一卡通, mode, floor area,
priority groups, deadline, a stage seen), which are the reconciler's input, never derived, never rebuilt away."""
from __future__ import annotations

import datetime as dt
from typing import Any, Optional

from sqlalchemy import JSON, CheckConstraint, Date, Float, ForeignKey, Index, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from server.db import Base, UTCDateTime, utcnow


class Renovation(Base):
    """A C/D house followed until the family has moved in and the old house is dealt with. Derived: one per household
    whose house an assessment ever graded C or D; its entries find it again by household after a rebuild."""

    __tablename__ = "renovations"
    __table_args__ = (
        CheckConstraint("grade IN ('C','D')", name="grade_dangerous"),
        CheckConstraint("stage IN ('planned','building','finished','moved_in','old_dealt')", name="stage_known"),
        # the list's filters and the supervisor's count: unfinished houses under an area by stage and deadline
        Index("ix_renovations_area_stage_deadline", "area_id", "stage", "deadline"),
    )

    household_id: Mapped[int] = mapped_column(ForeignKey("households.id", ondelete="CASCADE"), primary_key=True)
    #: the household's area, for scoping
    area_id: Mapped[int] = mapped_column(ForeignKey("areas.id"))
    #: C or D: the grade of the latest assessment that graded the house dangerous
    grade: Mapped[str] = mapped_column(String(1))
    #: that assessment (instanceID)
    assessment_instance_id: Mapped[str] = mapped_column(String(255))
    #: the day the house was first graded C or D (it entered the ledger)
    graded_on: Mapped[dt.date] = mapped_column(Date)
    #: a later assessment's grade A or B, when one regraded the house: {"grade", "instance_id", "on"}; else null
    regraded: Mapped[Optional[dict[str, Any]]] = mapped_column(JSON)
    #: one of sync.renovation.STAGES
    stage: Mapped[str] = mapped_column(String(10))
    #: 改造方式, a code of sync.renovation.MODES; null when unknown
    mode: Mapped[Optional[str]] = mapped_column(String(20))
    #: the assessor's own words when the mode is "other"
    mode_other: Mapped[Optional[str]] = mapped_column(Text)
    #: where the mode came from: assessment or entry
    mode_source: Mapped[Optional[str]] = mapped_column(String(10))
    #: 四类重点对象 groups, codes of sync.renovation.GROUPS
    groups: Mapped[list[str]] = mapped_column(JSON)
    #: where the groups came from: roster (the roster and the surveys) or entry
    groups_source: Mapped[str] = mapped_column(String(10))
    #: floor area of the new or repaired house, m² (entered); null when not entered
    floor_area: Mapped[Optional[float]] = mapped_column(Float)
    #: the subsidy of the grade in the year it was graded (rules.toml [housing_subsidy]), yuan; null when not set
    subsidy: Mapped[Optional[float]] = mapped_column(Float)
    #: the year whose subsidy figures apply
    subsidy_year: Mapped[int] = mapped_column()
    #: paid to the household's 一卡通 so far (the payments entered), yuan
    paid_amount: Mapped[float] = mapped_column(Float)
    #: the day of the latest payment; null when none
    paid_on: Mapped[Optional[dt.date]] = mapped_column(Date)
    #: the day each stage was first reached, observed or entered; null until then
    started_on: Mapped[Optional[dt.date]] = mapped_column(Date)
    finished_on: Mapped[Optional[dt.date]] = mapped_column(Date)
    moved_in_on: Mapped[Optional[dt.date]] = mapped_column(Date)
    old_dealt_on: Mapped[Optional[dt.date]] = mapped_column(Date)
    #: the day by which the family must have moved in: entered, else from the rules; null when neither says
    deadline: Mapped[Optional[dt.date]] = mapped_column(Date)
    #: where the deadline came from: rules or entry
    deadline_source: Mapped[Optional[str]] = mapped_column(String(10))
    #: the assessments' photos by the stage they show: [{"stage", "instance_id", "role", "file", "on"}]
    photos: Mapped[list[Any]] = mapped_column(JSON)
    #: every step, oldest first: [{"at", "event": assessed|visited|payment|mode|floor_area|groups|deadline|stage,
    #: ...}]
    history: Mapped[list[Any]] = mapped_column(JSON)
    #: what set each stage's date (sync/renovation.py): {stage: {"form", "instance_id", "on"} for an assessment or a
    #: visit, {"entry_id", "by", "on"} for an entry}; null on a row written before it existed, until reconciled again
    stage_sources: Mapped[Optional[dict[str, Any]]] = mapped_column(JSON)


class RenovationEntry(Base):
    """A fact entered by hand on a household's ledger, with who entered it and when. Never changed later; the
    reconciler reads them with the assessments."""

    __tablename__ = "renovation_entries"
    __table_args__ = (CheckConstraint("kind IN ('payment','mode','floor_area','groups','deadline','stage')",
                                      name="kind_known"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    #: the household (not the derived row, which is deleted and written again at every reconcile)
    household_id: Mapped[int] = mapped_column(ForeignKey("households.id", ondelete="CASCADE"), index=True)
    #: one of sync.renovation.ENTRY_KINDS
    kind: Mapped[str] = mapped_column(String(10))
    #: what was entered, by kind (sync.renovation.Entry)
    value: Mapped[dict[str, Any]] = mapped_column(JSON)
    #: the entering account
    by_id: Mapped[int] = mapped_column(ForeignKey("users.id"))
    #: their name as shown when they entered it (display name, else user name)
    by_name: Mapped[str] = mapped_column(String(100))
    at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow)
