"""Households outside the roster (应纳尽纳) as stored: the `outside_reports` the reconciler keeps from each 新发现户报告
submission (derived: found again from the submission by `reconcile rebuild`), and the decision a supervisor enters
on one (`outside_decisions`: 纳入 or 不纳入, never derived, never rebuilt away). sync/outside_reports.py."""
from __future__ import annotations

import datetime as dt
from typing import Any, Optional

from sqlalchemy import JSON, CheckConstraint, ForeignKey, Index, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from server.db import Base, UTCDateTime, utcnow


class OutsideReport(Base):
    """One reported household: the current version of a household_report submission, read into values, with the
    findings on what cannot be used and the registered household its head's ID number already belongs to."""

    __tablename__ = "outside_reports"
    __table_args__ = (Index("ix_outside_reports_area_reported", "area_id", "reported_at"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    #: the chain of edits' first instanceID: the report stays the same row when its submission is edited
    root_instance_id: Mapped[str] = mapped_column(String(255), unique=True)
    #: the current submission of that chain
    submission_id: Mapped[int] = mapped_column(ForeignKey("submissions.id", ondelete="CASCADE"), index=True)
    instance_id: Mapped[str] = mapped_column(String(255))
    #: the account that sent it (the author; never a name from the XML)
    reporter_id: Mapped[Optional[int]] = mapped_column(ForeignKey("users.id"))
    #: when it arrived
    reported_at: Mapped[dt.datetime] = mapped_column(UTCDateTime)
    #: for scoping: the village it names when that is one of the sender's areas, else the submission's area
    #: (the sender's only area); null when neither (admins only)
    area_id: Mapped[Optional[int]] = mapped_column(ForeignKey("areas.id"))
    #: the village it names, when that is a village or group inside the sender's areas
    village_id: Mapped[Optional[int]] = mapped_column(ForeignKey("areas.id"))
    head_name: Mapped[str] = mapped_column(String(100), default="")
    #: the reasons' codes (sync.forms.report.REASONS), for the list's filter
    reasons: Mapped[list[str]] = mapped_column(JSON)
    #: everything the form said, as read (sync.forms.report.read)
    values: Mapped[dict[str, Any]] = mapped_column(JSON)
    #: values that cannot be used: [{"code", "zh", "en"}]
    findings: Mapped[list[dict[str, Any]]] = mapped_column(JSON)
    #: the registered household whose member has the head's ID number (a possible duplicate); null when none
    duplicate_household_id: Mapped[Optional[int]] = mapped_column(ForeignKey("households.id", ondelete="SET NULL"))


class OutsideDecision(Base):
    """A supervisor's (or admin's) decision on a report: register (纳入, with the household it created) or decline
    (不纳入, with a reason). One per report, kept by the database: a second decision is refused."""

    __tablename__ = "outside_decisions"
    __table_args__ = (CheckConstraint("decision IN ('register','decline')", name="decision_known"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    #: the report's root_instance_id: a decision outlives a rebuild of the reports
    root_instance_id: Mapped[str] = mapped_column(String(255), unique=True)
    decision: Mapped[str] = mapped_column(String(10))
    #: register: 边缘易致贫户 / 突发严重困难户 / 脱贫不稳定户
    monitoring_type: Mapped[Optional[str]] = mapped_column(String(16))
    #: register: the household it created
    household_id: Mapped[Optional[int]] = mapped_column(ForeignKey("households.id", ondelete="SET NULL"))
    household_number: Mapped[Optional[str]] = mapped_column(String(32))
    #: register: the user name of the 帮扶责任人
    cadre: Mapped[Optional[str]] = mapped_column(String(64))
    #: decline: why (also a note on a registration)
    reason: Mapped[Optional[str]] = mapped_column(Text)
    by_id: Mapped[int] = mapped_column(ForeignKey("users.id"))
    by_name: Mapped[str] = mapped_column(String(100))
    at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow)
