"""Reviewing: supervisors' decisions on submissions, and the lists they work through (submissions by review state,
open conflicts, data-quality findings, questionable visits, submissions sent from outside their household's areas),
each limited to the caller's areas.

The caller's area scope comes in as any object with `filter(statement, column)` (server.scope.AreaScope), so that
this module stays free of the server shell. Services flush; the request commits.
"""
from __future__ import annotations

import dataclasses
import datetime as dt
from typing import Any, Protocol

from sqlalchemy import func, or_, select
from sqlalchemy.orm import Session
from sqlalchemy.sql import ColumnElement, Select

from forms.models import Form, FormVersion
from server.errors import DomainError
from sync.facts import as_received, cached_fact
from sync.feedback_state import refresh_after_step
from sync.idcard import mask
from sync.models import Area, Household, Job, Submission
from sync.records import Conflict, Finding, HouseholdRecord, RecordMember, Visit, questionable_visit
from sync.review_models import AREA_DECISIONS, REVIEW_STATES, AreaDecision, ReviewComment

MAX_COMMENT = 2000


class Scope(Protocol):
    def filter(self, statement: Select, column: ColumnElement) -> Select: ...


class Author(Protocol):
    id: int
    username: str
    display_name: str


@dataclasses.dataclass
class Page:
    """One page of a list: the rows and how many there are in all."""
    total: int
    items: list[Any]


# ---- review decisions --------------------------------------------------------------------------------------

def set_review(session: Session, submission: Submission, state: str | None, comment: str | None,
               user: Author) -> ReviewComment | None:
    """Set the submission's review state and/or add a comment; both are kept as one step of its review history.
    Choosing the state it already has, without a comment, changes nothing (None)."""
    body = (comment or "").strip()
    if state is not None and state not in REVIEW_STATES:
        raise DomainError("invalid", "review.state_unknown", f"审核状态“{state}”无效。",
                          f"'{state}' is not a review state ({', '.join(REVIEW_STATES)}).")
    if len(body) > MAX_COMMENT:
        raise DomainError("invalid", "review.comment_too_long", f"意见最多 {MAX_COMMENT} 个字。",
                          f"A comment may have at most {MAX_COMMENT} characters.")
    if state is None and not body:
        raise DomainError("invalid", "review.empty", "请选择审核状态或填写意见。", "Choose a review state or write a comment.")
    changed = state if state is not None and state != submission.review_state else None
    if changed is None and not body:
        return None
    if changed is not None:
        submission.review_state = changed
    step = ReviewComment(submission_id=submission.id, author_id=user.id,
                         author_name=(user.display_name or user.username)[:100], body=body, review_state=changed)
    session.add(step)
    session.flush()
    refresh_after_step(session, submission.id)
    return step


def decide_out_of_area(session: Session, submission: Submission, decision: str, reason: str | None,
                       user: Author) -> AreaDecision:
    """Accept a submission sent from outside its household's areas into the household's record, or reject it (it
    stays stored). Decided once; the reconciler folds an accepted one in on its next run (a job queued here)."""
    body = (reason or "").strip()
    if decision not in AREA_DECISIONS:
        raise DomainError("invalid", "area_decision.unknown", f"决定“{decision}”无效。",
                          f"'{decision}' is not a decision ({', '.join(AREA_DECISIONS)}).")
    if len(body) > MAX_COMMENT:
        raise DomainError("invalid", "area_decision.reason_too_long", f"理由最多 {MAX_COMMENT} 个字。",
                          f"A reason may have at most {MAX_COMMENT} characters.")
    if not submission.out_of_area:
        raise DomainError("conflict", "area_decision.not_held", "这份提交不是超出辖区的提交，无需决定。",
                          "This submission was not sent from outside its household's areas; "
                          "there is nothing to decide.")
    if session.scalar(select(AreaDecision.id).where(AreaDecision.submission_id == submission.id)) is not None:
        raise DomainError("conflict", "area_decision.decided", "这份超出辖区的提交已经处理过了。",
                          "This out-of-area submission has already been decided.")
    made = AreaDecision(submission_id=submission.id, decision=decision, decided_by=user.id,
                        decided_by_name=(user.display_name or user.username)[:100], reason=body)
    session.add(made)
    session.add(Job(kind="reconcile", submission_id=submission.id, payload={}))
    session.flush()
    return made


def comments_for(session: Session, submission_id: int) -> list[ReviewComment]:
    return list(session.scalars(select(ReviewComment).where(ReviewComment.submission_id == submission_id)
                                .order_by(ReviewComment.created_at, ReviewComment.id)))


# ---- areas -------------------------------------------------------------------------------------------------

def _in_area(statement: Select, column: ColumnElement, area: Area | None) -> Select:
    if area is None:
        return statement
    return statement.where(column.in_(select(Area.id).where(Area.path.startswith(area.path))))


def area_choices(session: Session, scope: Scope, levels: tuple[str, ...] = ("county", "town", "village")
                 ) -> list[Area]:
    """The caller's areas of these levels, in tree order (each area right after its parent, siblings by code)."""
    areas = session.scalars(scope.filter(select(Area).where(Area.level.in_(levels)), Area.id)).all()
    ids = {int(i) for a in areas for i in a.path.strip("/").split("/") if i}
    codes = dict(session.execute(select(Area.id, Area.code).where(Area.id.in_(ids))).all()) if ids else {}
    return sorted(areas, key=lambda a: tuple(codes.get(int(i), "") for i in a.path.strip("/").split("/") if i))


def area_tree(session: Session) -> list[tuple[Area, int]]:
    """Every area with its depth, in tree order, children by code."""
    areas = session.scalars(select(Area)).all()
    children: dict[int | None, list[Area]] = {}
    for area in areas:
        children.setdefault(area.parent_id, []).append(area)
    out: list[tuple[Area, int]] = []
    stack = [(a, 0) for a in sorted(children.get(None, []), key=lambda a: a.code, reverse=True)]
    while stack:
        area, depth = stack.pop()
        out.append((area, depth))
        stack.extend((c, depth + 1) for c in sorted(children.get(area.id, []), key=lambda a: a.code, reverse=True))
    return out


# ---- the lists ---------------------------------------------------------------------------------------------

def _count(session: Session, statement: Select) -> int:
    return session.scalar(select(func.count()).select_from(statement.order_by(None).subquery())) or 0


#: what a submission's evidence filter may ask for: a verdict, or "none" for what has none (not a visit, not judged)
VERDICT_FILTERS = ("verified", "questionable", "no_evidence", "none")


@dataclasses.dataclass(frozen=True)
class SubmissionRow:
    """One row of the submissions list."""

    submission: Submission
    form_id: str
    title: str
    area: Area | None
    #: the household it names, when that is on the roster
    household_id: int | None
    head_name: str | None
    #: the visit's evidence verdict and reason codes (sync/evidence.py); None for other forms or before judging
    verdict: str | None
    reasons: list[Any]

    def filled_at(self, clock_skew: dt.timedelta) -> dt.datetime | None:
        """When the form was filled, as the household file counts it (sync/facts.py: meta end, start or its date,
        never later than it arrived plus the clock skew); None until the reconciler has read the submission."""
        fact = cached_fact(self.submission.facts)
        if fact is None:
            return None
        return as_received(fact, None, self.submission.received_at, clock_skew).observed_at


def list_submissions(session: Session, scope: Scope, *, state: str | None = None, form: str | None = None,
                     area: Area | None = None, household: str | None = None, verdict: str | None = None,
                     received: tuple[dt.datetime, dt.datetime] | None = None, among: Select | None = None,
                     limit: int = 50, offset: int = 0) -> Page:
    """Current submissions (not replaced by an edit), newest first, as SubmissionRows: with the household's head
    and the visit's evidence verdict. `received` is a [from, to) range of arrival times (UTC, as stored): the
    arrival time is what (area_id, received_at) indexes, so a month's page reads only that month. `among` (a
    select of submission ids) lists those instead, current or not: a returned submission its sender has since
    edited is still the one the supervisor returned (sync.feedback.returned_ids)."""
    statement = (select(Submission, Form.xml_form_id, FormVersion.title, Area, Household.id, Household.head_name,
                        Visit.verdict, Visit.reasons)
                 .join(Form, Submission.form_id == Form.id)
                 .join(FormVersion, Submission.form_version_id == FormVersion.id)
                 .outerjoin(Area, Submission.area_id == Area.id)
                 .outerjoin(Household, Household.number == Submission.household_number)
                 .outerjoin(Visit, Visit.submission_id == Submission.id)
                 .where(Submission.current.is_(True) if among is None else Submission.id.in_(among)))
    statement = _in_area(scope.filter(statement, Submission.area_id), Submission.area_id, area)
    if state:
        statement = statement.where(Submission.review_state == state)
    if form:
        statement = statement.where(Form.xml_form_id == form)
    if household:
        statement = statement.where(Submission.household_number == household)
    if verdict == "none":
        statement = statement.where(Visit.verdict.is_(None))
    elif verdict:
        statement = statement.where(Visit.verdict == verdict)
    if received:
        statement = statement.where(Submission.received_at >= received[0], Submission.received_at < received[1])
    total = _count(session, statement)
    rows = session.execute(statement.order_by(Submission.received_at.desc(), Submission.id.desc())
                           .limit(limit).offset(offset)).all()
    return Page(total, [SubmissionRow(*row[:7], list(row[7] or [])) for row in rows])


def out_of_area_submissions(session: Session, scope: Scope, *, area: Area | None = None, limit: int = 50,
                            offset: int = 0) -> Page:
    """Current submissions sent from outside their household's areas that are not accepted: those waiting for a
    decision first, then the rejected ones, newest first. Listed for the household's area, not the sender's:
    (Submission, form id, head of household, village name, AreaDecision or None)."""
    statement = (select(Submission, Form.xml_form_id, Household.head_name, Area.name, AreaDecision)
                 .join(Form, Submission.form_id == Form.id)
                 .join(Household, Household.number == Submission.household_number)
                 .join(Area, Household.area_id == Area.id)
                 .outerjoin(AreaDecision, AreaDecision.submission_id == Submission.id)
                 .where(Submission.out_of_area.is_(True), Submission.current.is_(True),
                        or_(AreaDecision.id.is_(None), AreaDecision.decision == "rejected")))
    statement = _in_area(scope.filter(statement, Household.area_id), Household.area_id, area)
    total = _count(session, statement)
    rows = session.execute(statement.order_by(AreaDecision.id.is_not(None), Submission.received_at.desc(),
                                              Submission.id.desc()).limit(limit).offset(offset)).all()
    return Page(total, [tuple(r) for r in rows])


def find_submission(session: Session, scope: Scope, xml_form_id: str, instance_id: str):
    """(Submission, form id, form title, version) in the caller's areas, or a not_found DomainError."""
    statement = scope.filter(
        select(Submission, Form.xml_form_id, FormVersion.title, FormVersion.version)
        .join(Form, Submission.form_id == Form.id).join(FormVersion, Submission.form_version_id == FormVersion.id)
        .where(Form.xml_form_id == xml_form_id, Submission.instance_id == instance_id), Submission.area_id)
    row = session.execute(statement).first()
    if row is None:
        raise DomainError("not_found", "submission.not_found", "没有这份提交。", "There is no such submission.")
    return tuple(row)


def find_conflict(session: Session, scope: Scope, key: str) -> Conflict:
    conflict = session.scalar(scope.filter(select(Conflict).where(Conflict.key == key), Conflict.area_id))
    if conflict is None:
        raise DomainError("not_found", "conflict.not_found", "没有这个冲突。", "There is no such conflict.")
    return conflict


def open_conflicts(session: Session, scope: Scope, *, area: Area | None = None, limit: int = 50,
                   offset: int = 0) -> Page:
    """Open conflicts: (Conflict, household number, head of household, village name), by household and field."""
    statement = (select(Conflict, Household.number, Household.head_name, Area.name)
                 .join(Household, Conflict.household_id == Household.id)
                 .join(Area, Conflict.area_id == Area.id)
                 .where(Conflict.state == "open"))
    statement = _in_area(scope.filter(statement, Conflict.area_id), Conflict.area_id, area)
    total = _count(session, statement)
    rows = session.execute(statement.order_by(Household.number, Conflict.field).limit(limit).offset(offset)).all()
    return Page(total, [tuple(r) for r in rows])


def quality_report(session: Session, scope: Scope, *, area: Area | None = None, limit: int = 100,
                   offset: int = 0, failed_jobs: bool = False) -> dict[str, Any]:
    """What GET /api/v1/quality lists, as values for a page: quality findings, the same ID number in two
    households, submissions that name no known household (and, for admins, failed reconcile jobs)."""
    findings_q = _in_area(scope.filter(
        select(Finding, Household.number, Household.head_name).join(Household, Finding.household_id == Household.id)
        .where(Finding.kind == "quality"), Finding.area_id), Finding.area_id, area)
    findings = Page(_count(session, findings_q), [tuple(r) for r in session.execute(
        findings_q.order_by(Household.number, Finding.code).limit(limit).offset(offset))])
    visible = _in_area(scope.filter(select(Household.id), Household.area_id), Household.area_id, area)
    shared = (select(RecordMember.id_number).group_by(RecordMember.id_number)
              .having(func.count(RecordMember.household_id) > 1))
    duplicates: dict[str, list[dict[str, str]]] = {}
    for id_number, name, number in session.execute(
            select(RecordMember.id_number, RecordMember.name, Household.number)
            .join(Household, RecordMember.household_id == Household.id)
            .where(RecordMember.id_number.in_(shared),
                   RecordMember.id_number.in_(select(RecordMember.id_number)
                                              .where(RecordMember.household_id.in_(visible))))
            .order_by(RecordMember.id_number, Household.number)):
        duplicates.setdefault(id_number, []).append({"household": number, "name": name})
    unattached = session.execute(_in_area(scope.filter(
        select(Submission.instance_id, Form.xml_form_id, Submission.household_number, Submission.reconcile_state,
               Submission.received_at).join(Form, Submission.form_id == Form.id)
        .where(Submission.reconcile_state.in_(("unknown_household", "no_household"))), Submission.area_id),
        Submission.area_id, area).order_by(Submission.received_at.desc()).limit(limit)).all()
    report: dict[str, Any] = {
        "findings": findings,
        "duplicate_id_numbers": [{"id_number": mask(k), "households": v} for k, v in duplicates.items()],
        "unattached_submissions": [{"instance_id": i, "form_id": f, "household": h, "state": s, "received_at": r}
                                   for i, f, h, s, r in unattached],
    }
    if failed_jobs:
        report["failed_jobs"] = list(session.scalars(select(Job).where(Job.state == "failed").order_by(Job.id)))
    return report


def questionable_visits(session: Session, scope: Scope, month: str, *, area: Area | None = None, limit: int = 50,
                        offset: int = 0) -> Page:
    """Visits of the month whose evidence is questionable or missing, newest first:
    (Visit, household number, head of household, village name, form id, instance id, submitter id)."""
    statement = (select(Visit, Household.number, Household.head_name, Area.name, Form.xml_form_id,
                        Submission.instance_id, Submission.submitter_id)
                 .join(Household, Visit.household_id == Household.id)
                 .join(Area, Visit.area_id == Area.id)
                 .join(Submission, Visit.submission_id == Submission.id)
                 .join(Form, Submission.form_id == Form.id)
                 .where(Visit.month == month, questionable_visit()))
    statement = _in_area(scope.filter(statement, Visit.area_id), Visit.area_id, area)
    total = _count(session, statement)
    rows = session.execute(statement.order_by(Visit.visit_date.desc(), Visit.id.desc())
                           .limit(limit).offset(offset)).all()
    return Page(total, [tuple(r) for r in rows])


def visit_reasons(session: Session, household_ids: list[int]) -> dict[str, list[dict[str, Any]]]:
    """The full reasons (code, message_zh, message_en, details) of each visit of these households, by instance id:
    the visits table keeps only the codes, the household record keeps the messages with their figures."""
    out: dict[str, list[dict[str, Any]]] = {}
    if household_ids:
        for visits in session.scalars(select(HouseholdRecord.visits)
                                      .where(HouseholdRecord.household_id.in_(set(household_ids)))):
            for visit in visits or []:
                if visit.get("instance_id") and visit.get("reasons"):
                    out[visit["instance_id"]] = [r for r in visit["reasons"] if isinstance(r, dict)]
    return out
