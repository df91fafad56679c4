"""Household records derived from submissions (一户一档). Everything here can be rebuilt from the submissions,
the roster and the supervisors' resolutions; nothing here is a source of truth."""
from __future__ import annotations

import datetime as dt
from typing import Any, Optional

from sqlalchemy import (JSON, Boolean, CheckConstraint, Date, Float, ForeignKey, Index, Integer, String, Text, bindparam,
                        text)
from sqlalchemy.orm import Mapped, mapped_column
from sqlalchemy.sql import ColumnElement

from server.db import Base, UTCDateTime, utcnow


class HouseholdRecord(Base):
    """The current state of a household with the provenance of every value, and its file of events."""

    __tablename__ = "household_records"

    household_id: Mapped[int] = mapped_column(ForeignKey("households.id", ondelete="CASCADE"), primary_key=True)
    #: {field: {"value", "source", "instance_id", "form", "by", "at"}}
    fields: Mapped[dict[str, Any]] = mapped_column(JSON)
    #: current members: the roster's, changed by the visits' member changes
    members: Mapped[list[Any]] = mapped_column(JSON)
    #: every visit with what it recorded (checklist, problems, help given, photos), oldest first
    visits: Mapped[list[Any]] = mapped_column(JSON)
    assessments: Mapped[list[Any]] = mapped_column(JSON)
    #: one income survey per year (the newest observation of that year), oldest first
    incomes: Mapped[list[Any]] = mapped_column(JSON)
    #: the household's file: every event in order
    events: Mapped[list[Any]] = mapped_column(JSON)
    #: entity version devices see (households.csv __version): roster changes + entity updates + resolutions,
    #: so it only grows, and a rebuild gives the same number as the incremental path
    version: Mapped[int] = mapped_column(Integer)
    #: number of current members
    size: Mapped[int] = mapped_column(Integer)
    #: meets the exit standard (脱贫标准) on the latest data; null when it cannot be judged (no income surveyed)
    exit_eligible: Mapped[Optional[bool]] = mapped_column(Boolean)
    #: number of open conflicts, for lists
    open_conflicts: Mapped[int] = mapped_column(Integer, default=0)
    updated_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow)
    #: sha256 of the rules the record was folded with (RulesConfig.digest); None before records carried it;
    #: indexed so that the records folded with other rules are found without reading every record
    rules_digest: Mapped[Optional[str]] = mapped_column(String(64), index=True)


#: a visit's verdicts when its evidence is questionable or missing (sync/evidence.py): the supervisors' lists of them
QUESTIONABLE = ("questionable", "no_evidence")
_QUESTIONABLE_SQL = "verdict IN ('questionable', 'no_evidence')"


class Visit(Base):
    """A door-to-door visit, one row per visit submission: what coverage and the map count."""

    __tablename__ = "visits"
    # coverage counts a month's visits under an area by household and verdict: the index answers it alone
    __table_args__ = (Index("ix_visits_area_month_household", "area_id", "month", "household_id", "verdict"),
                      Index("ix_visits_household_date", "household_id", "visit_date"),
                      # the duties (sync/duties.py) read one role's visits of an area over months: the few
                      # secretaries' visits of a year without reading every cadre's
                      Index("ix_visits_area_duty_month", "area_id", "visitor_duty", "month"),
                      # the month's questionable visits (the supervisor's home, the review list) without reading the
                      # month's others: a province's month is 1.2M entries of the index above
                      Index("ix_visits_questionable", "month", "area_id", postgresql_where=text(_QUESTIONABLE_SQL),
                            sqlite_where=text(_QUESTIONABLE_SQL)))

    id: Mapped[int] = mapped_column(primary_key=True)
    submission_id: Mapped[int] = mapped_column(ForeignKey("submissions.id", ondelete="CASCADE"), unique=True)
    household_id: Mapped[int] = mapped_column(ForeignKey("households.id", ondelete="CASCADE"))
    #: the household's village, copied for coverage queries by area
    area_id: Mapped[int] = mapped_column(ForeignKey("areas.id"))
    #: the account that submitted (coverage counts accounts, not the free-text visitor name)
    submitter_id: Mapped[Optional[int]] = mapped_column(ForeignKey("users.id"), index=True)
    #: the visitor's duty role when the submission was received (Submission.visitor_duty), never the account's
    #: role of today nor a name in the XML; null when it was received before roles were kept
    visitor_duty: Mapped[Optional[str]] = mapped_column(String(20))
    visit_date: Mapped[Optional[dt.date]] = mapped_column(Date)
    #: "YYYY-MM" of the visit date, the coverage month
    month: Mapped[Optional[str]] = mapped_column(String(7))
    latitude: Mapped[Optional[float]] = mapped_column(Float)
    longitude: Mapped[Optional[float]] = mapped_column(Float)
    accuracy: Mapped[Optional[float]] = mapped_column(Float)
    #: evidence verdict: verified, questionable, no_evidence; null until judged
    verdict: Mapped[Optional[str]] = mapped_column(String(16))
    #: reasons for a questionable verdict
    reasons: Mapped[list[Any]] = mapped_column(JSON, default=list)


def questionable_visit() -> ColumnElement:
    """The visit's verdict among QUESTIONABLE, the values written into the SQL: PostgreSQL matches a partial index's
    predicate (ix_visits_questionable) against constants only, not parameters."""
    return Visit.verdict.in_(bindparam("questionable", QUESTIONABLE, expanding=True, literal_execute=True))


class CoverageMonth(Base):
    """Coverage cache (sync/coverage.py): of an area's households, how many were visited in a month and how many with
    verified evidence, as counted from `visits`. Filled on demand, zeros included; a row is out of date while a
    CoverageStale row names its area and month. Derived: dropping every row only makes the next request slower."""

    __tablename__ = "coverage_months"

    area_id: Mapped[int] = mapped_column(ForeignKey("areas.id", ondelete="CASCADE"), primary_key=True)
    month: Mapped[str] = mapped_column(String(7), primary_key=True)
    visited: Mapped[int] = mapped_column(Integer)
    verified: Mapped[int] = mapped_column(Integer)


class CacheFormat(Base):
    """Which way of keeping a derived table the rows in it were made by, per table: a worker that starts compares it
    with its code's, so that the derived rows are made again once after a change, not read through at every start."""

    __tablename__ = "cache_formats"

    #: the derived table, e.g. "coverage_months"
    name: Mapped[str] = mapped_column(String(64), primary_key=True)
    format: Mapped[str] = mapped_column(String(32))


class CoverageStale(Base):
    """An area's month whose coverage the reconciler changed, written with the visits that changed it. Only ever
    inserted by the reconcilers (no key to collide on, so workers never wait on each other); taken away by the
    request that counts the month again."""

    __tablename__ = "coverage_stale"
    __table_args__ = (Index("ix_coverage_stale_area_month", "area_id", "month"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    area_id: Mapped[int] = mapped_column(ForeignKey("areas.id", ondelete="CASCADE"))
    month: Mapped[str] = mapped_column(String(7))


class Conflict(Base):
    """Submissions from the same entity version that disagree on a field. Derived: its key is stable, so a
    resolution (kept in `resolutions`) finds it again after a rebuild."""

    __tablename__ = "conflicts"
    __table_args__ = (CheckConstraint("state IN ('open','resolved','superseded')", name="state_known"),)

    key: Mapped[str] = mapped_column(String(20), primary_key=True)
    household_id: Mapped[int] = mapped_column(ForeignKey("households.id", ondelete="CASCADE"), index=True)
    area_id: Mapped[int] = mapped_column(ForeignKey("areas.id"), index=True)
    field: Mapped[str] = mapped_column(String(64))
    base_version: Mapped[int] = mapped_column(Integer)
    state: Mapped[str] = mapped_column(String(12))
    #: [{"instance_id", "value", "by", "at"}]
    entries: Mapped[list[Any]] = mapped_column(JSON)
    #: the value the record holds now
    current: Mapped[Optional[Any]] = mapped_column(JSON)


class Resolution(Base):
    """A supervisor's decision on a conflict: an input of the reconciler, never derived, never rebuilt away."""

    __tablename__ = "resolutions"

    id: Mapped[int] = mapped_column(primary_key=True)
    conflict_key: Mapped[str] = mapped_column(String(20), unique=True)
    household_id: Mapped[int] = mapped_column(ForeignKey("households.id", ondelete="CASCADE"), index=True)
    field: Mapped[str] = mapped_column(String(64))
    #: the value chosen
    value: Mapped[Any] = mapped_column(JSON)
    #: why, in the supervisor's words
    note: Mapped[Optional[str]] = mapped_column(Text)
    resolved_by_id: Mapped[int] = mapped_column(ForeignKey("users.id"))
    #: the resolver's user name, as the household's file shows it
    resolved_by: Mapped[str] = mapped_column(String(64))
    resolved_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow)


class Finding(Base):
    """A monitoring flag or a data-quality finding on a household, as of its latest reconcile."""

    __tablename__ = "findings"
    __table_args__ = (CheckConstraint("kind IN ('monitoring','quality')", name="kind_known"),
                      Index("ix_findings_area_kind", "area_id", "kind"),
                      # the supervisor's home counts a few codes (C/D houses, the 排查 list) in its areas
                      Index("ix_findings_code_area", "code", "area_id", "household_id"))

    id: Mapped[int] = mapped_column(primary_key=True)
    household_id: Mapped[int] = mapped_column(ForeignKey("households.id", ondelete="CASCADE"), index=True)
    area_id: Mapped[int] = mapped_column(ForeignKey("areas.id"))
    kind: Mapped[str] = mapped_column(String(12))
    #: stable code, e.g. income_drop, size_mismatch
    code: Mapped[str] = mapped_column(String(40))
    message_zh: Mapped[str] = mapped_column(Text)
    message_en: Mapped[str] = mapped_column(Text)
    details: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)


class RecordMember(Base):
    """Current members' ID numbers by household, to find the same person registered in two households."""

    __tablename__ = "record_members"

    household_id: Mapped[int] = mapped_column(ForeignKey("households.id", ondelete="CASCADE"), primary_key=True)
    id_number: Mapped[str] = mapped_column(String(18), primary_key=True, index=True)
    name: Mapped[str] = mapped_column(String(100))
