"""The exit procedure (退出程序) as stored: each step people enter for a household proposed to exit, with the day of
the step, who entered it and when. Facts, never derived, never touched by a rebuild."""
from __future__ import annotations

import datetime as dt
from typing import Optional

from sqlalchemy import Boolean, CheckConstraint, Date, ForeignKey, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column, relationship

from server.db import Base, UTCDateTime, utcnow
from sync.models import Household


class ExitStep(Base):
    """One step of a household's exit procedure (DOMAIN.md "Precisions": 民主评议 → 核实 → 村内公示 → 镇核查 →
    县抽查 → 批准公告 → 备案标注). Entered once, in order, never changed."""

    __tablename__ = "exit_steps"
    __table_args__ = (
        CheckConstraint("step IN ('appraisal','verification','publicity','town_check','county_check',"
                        "'announcement','filing')", name="step_known"),
        CheckConstraint("position BETWEEN 1 AND 7", name="position_range"),
        UniqueConstraint("household_id", "step", name="uq_exit_steps_household_step"),
        UniqueConstraint("household_id", "position", name="uq_exit_steps_household_position"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    household_id: Mapped[int] = mapped_column(ForeignKey("households.id", ondelete="CASCADE"), index=True)
    #: one of sync.exit_procedure.STEPS
    step: Mapped[str] = mapped_column(String(16))
    #: the step's place in the procedure, 1 (民主评议) to 7 (备案标注)
    position: Mapped[int] = mapped_column()
    #: the day the step took place
    on: Mapped[dt.date] = mapped_column(Date)
    note: Mapped[Optional[str]] = mapped_column(Text)
    #: the exit standard (sync.rules.exit_standard) as the household's record judged it when the step was entered:
    #: null when it could not be judged (no income surveyed)
    standard_met: Mapped[Optional[bool]] = mapped_column(Boolean)
    #: the document photo (公示照片, 评议记录…) in the media store, when one was given: its sha256 and the image type
    #: its check found (served as that type only, never as the type the sender declared)
    photo_sha256: Mapped[Optional[str]] = mapped_column(String(64))
    photo_type: Mapped[Optional[str]] = mapped_column(String(20))
    #: the entering account
    by_id: Mapped[int] = mapped_column(ForeignKey("users.id"))
    #: their name as shown when they entered it (display name, else user name)
    by_name: Mapped[str] = mapped_column(String(100))
    at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow)

    #: the household (found in the session's identity map when the caller has read it)
    household: Mapped[Household] = relationship(viewonly=True)
