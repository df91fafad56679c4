"""Monitoring cases (防止返贫监测) as stored: the derived `monitoring_cases` table the reconciler rewrites per household
(sync/monitoring.py), and the decisions people make on them (`monitoring_decisions`: 纳入, 不纳入, 风险消除, measures
entered by hand), which are the reconciler's input, never derived, never rebuilt away."""
from __future__ import annotations

import datetime as dt
from typing import Any, Optional

from sqlalchemy import JSON, CheckConstraint, ForeignKey, Index, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from server.db import Base, UTCDateTime, utcnow


class MonitoringCase(Base):
    """A household proposed for monitoring, followed until its risk is removed or it is dismissed. Derived: its key
    (household and the submission that proposed it, sync.monitoring.case_key) lets its decisions find it again after
    a rebuild."""

    __tablename__ = "monitoring_cases"
    __table_args__ = (
        CheckConstraint("state IN ('proposed','identified','helped','removed','dismissed')", name="state_known"),
        # the list's filters and the supervisor's count of proposals waiting: cases under an area by state
        Index("ix_monitoring_cases_area_state", "area_id", "state", "proposed_at"),
    )

    key: Mapped[str] = mapped_column(String(20), primary_key=True)
    household_id: Mapped[int] = mapped_column(ForeignKey("households.id", ondelete="CASCADE"), index=True)
    #: the household's area, for scoping
    area_id: Mapped[int] = mapped_column(ForeignKey("areas.id"))
    #: one of sync.monitoring.STATES
    state: Mapped[str] = mapped_column(String(10))
    proposed_at: Mapped[dt.datetime] = mapped_column(UTCDateTime)
    #: the submission that proposed it (instanceID)
    source_instance_id: Mapped[str] = mapped_column(String(255))
    #: the subtype the evidence suggests, and the one decided at 纳入 (null before)
    suggested_subtype: Mapped[str] = mapped_column(String(10))
    subtype: Mapped[Optional[str]] = mapped_column(String(10))
    #: risk types (sync.monitoring.RISKS): suggested by the evidence, and decided at 纳入
    suggested_risks: Mapped[list[str]] = mapped_column(JSON)
    risks: Mapped[list[str]] = mapped_column(JSON)
    identified_at: Mapped[Optional[dt.datetime]] = mapped_column(UTCDateTime)
    identified_by: Mapped[Optional[str]] = mapped_column(String(100))
    #: 风险消除 or 不纳入: when and by whom
    ended_at: Mapped[Optional[dt.datetime]] = mapped_column(UTCDateTime)
    ended_by: Mapped[Optional[str]] = mapped_column(String(100))
    #: the latest decision's reason
    reason: Mapped[Optional[str]] = mapped_column(Text)
    #: the household's paired cadre (user name) when it was derived
    cadre: Mapped[Optional[str]] = mapped_column(String(64))
    #: what triggered it: [{"at", "instance_id", "form", "by", "flags", "problems", "risks", ...}]
    evidence: Mapped[list[Any]] = mapped_column(JSON)
    #: its measures, from visits and by hand: [{"at", "source", "instance_id"|"decision_id", "by", "codes", "text"}]
    measures: Mapped[list[Any]] = mapped_column(JSON)
    #: 风险消除's conditions as judged when it was derived: [{"code", "met", "zh", "en", "details"}]
    conditions: Mapped[list[Any]] = mapped_column(JSON)
    history: Mapped[list[Any]] = mapped_column(JSON)


class MonitoringDecision(Base):
    """A decision on a monitoring case (纳入, 不纳入, 风险消除) or a measure entered by hand, with who and when. Never
    changed later; the reconciler reads them with the submissions."""

    __tablename__ = "monitoring_decisions"
    __table_args__ = (CheckConstraint("kind IN ('include','dismiss','remove','measure')", name="kind_known"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    #: the case's key (not a foreign key: the derived row is deleted and written again at every reconcile)
    case_key: Mapped[str] = mapped_column(String(20), index=True)
    household_id: Mapped[int] = mapped_column(ForeignKey("households.id", ondelete="CASCADE"), index=True)
    #: one of sync.monitoring.DECISION_KINDS
    kind: Mapped[str] = mapped_column(String(10))
    #: include: {"subtype", "risks"}; measure: {"codes"}; else {}
    value: Mapped[dict[str, Any]] = mapped_column(JSON)
    #: the reason, or the measure in the person's words
    text: Mapped[str] = mapped_column(Text)
    by_id: Mapped[int] = mapped_column(ForeignKey("users.id"))
    #: their name as shown when they decided (display name, else user name)
    by_name: Mapped[str] = mapped_column(String(100))
    at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow)
