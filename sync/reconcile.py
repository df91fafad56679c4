"""Writing household records: load a batch of households' inputs, fold each, replace their derived rows.

Works on batches (a handful for a worker's jobs, hundreds for a rebuild) with one query per table, so that a
county's 60,000 submissions rebuild in seconds. Call it inside a transaction; it flushes, the caller commits.
"""
from __future__ import annotations

import dataclasses
import datetime as dt
from collections import defaultdict
from typing import Iterable

from sqlalchemy import delete, insert, select, update
from sqlalchemy.orm import Session, selectinload

from sync.coverage import mark_stale
from sync.entity_list import bump_revision
from sync.facts import Fact, read_fact
from sync.fold import Baseline, Record, Resolution, fold
from sync.evidence import judge_visit, proposed_location
from sync.models import Household, Job, Submission, SubmissionAttachment
from sync.records import Conflict, Finding, HouseholdRecord, RecordMember, Resolution as ResolutionRow, Visit
from sync.review_models import HELD_OUT_OF_AREA
from sync.rules import RulesConfig


@dataclasses.dataclass(frozen=True)
class ReconcileOptions:
    rules: RulesConfig
    #: how long a submission waits for the earlier offline edit it builds on before it is applied anyway
    hold: dt.timedelta
    #: "now", given so that tests and rebuilds are deterministic
    now: dt.datetime


def households_for_submissions(session: Session, submission_ids: Iterable[int]) -> set[str]:
    """The households a set of submissions touches, including the household of a submission an edit replaced."""
    ids = list(submission_ids)
    if not ids:
        return set()
    rows = session.execute(select(Submission.household_number, Submission.deprecated_id, Submission.form_id)
                           .where(Submission.id.in_(ids))).all()
    numbers = {number for number, _dep, _form in rows if number}
    for _number, deprecated, form_id in rows:
        if deprecated:
            replaced = session.scalar(select(Submission.household_number).where(
                Submission.form_id == form_id, Submission.instance_id == deprecated))
            if replaced:
                numbers.add(replaced)
    return numbers


def mark_unattached(session: Session, submission_ids: Iterable[int], now: dt.datetime) -> None:
    """Submissions that name no known household are kept as they are, and say why they are not in a record."""
    ids = list(submission_ids)
    if not ids:
        return
    known = select(Household.number)
    session.execute(update(Submission).where(Submission.id.in_(ids), Submission.household_number.is_(None))
                    .values(reconcile_state="no_household", reconciled_at=now))
    session.execute(update(Submission).where(Submission.id.in_(ids), Submission.household_number.is_not(None),
                                             Submission.household_number.not_in(known))
                    .values(reconcile_state="unknown_household", reconciled_at=now))


def reconcile_households(session: Session, numbers: Iterable[str], options: ReconcileOptions,
                         reparse: bool = False) -> list[str]:
    """Recompute the records of these households; returns the numbers reconciled (known households only)."""
    numbers = sorted(set(numbers))
    if not numbers:
        return []
    households = session.scalars(select(Household).where(Household.number.in_(numbers))
                                 .options(selectinload(Household.members)).order_by(Household.id)
                                 .with_for_update()).all()
    if not households:
        return []
    by_number = {h.number: h for h in households}
    facts, counts, held_until, submitters = _load_facts(session, list(by_number), options, reparse)
    resolutions = _load_resolutions(session, [h.id for h in households])
    today = options.now.astimezone(dt.timezone(dt.timedelta(hours=8))).date()
    records: dict[int, tuple[Household, Record, int]] = {}
    for household in households:
        baseline = Baseline(number=household.number, status=household.status,
                            members=[_member_dict(m) for m in household.members])
        ids = resolutions.get(household.id, [])
        record = fold(baseline, facts.get(household.number, []), ids, options.rules, today)
        version = household.roster_version + counts.get(household.number, 0) + len(ids)
        records[household.id] = (household, record, version)
    photos = _load_photos(session, [sid for sid, _user in submitters.values()])
    for household, record, _version in records.values():
        _judge_visits(household, record, photos, submitters, options)
    _write(session, records, submitters, options.now)
    for instance_ids_until in held_until.values():
        for submission_id, until in instance_ids_until:
            _ensure_recheck(session, submission_id, until)
    bump_revision(session, "households")
    session.flush()
    return list(by_number)


def _member_dict(member) -> dict:
    return {"name": member.name, "id_number": member.id_number, "relation": member.relation, "sex": member.sex,
            "birth_date": member.birth_date.isoformat(), "schooling": member.schooling, "insured": member.insured,
            "health": member.health, "labour": member.labour, "source": "roster"}


def _load_facts(session: Session, numbers: list[str], options: ReconcileOptions, reparse: bool):
    rows = session.execute(select(Submission.id, Submission.household_number, Submission.current,
                                  Submission.facts, Submission.received_at, Submission.submitter_id,
                                  Submission.reconcile_state, HELD_OUT_OF_AREA.label("out_of_area"))
                           .where(Submission.household_number.in_(numbers))).all()
    missing = [r.id for r in rows if reparse or r.facts is None]
    parsed: dict[int, Fact] = {}
    if missing:
        for sid, xml, received in session.execute(select(Submission.id, Submission.xml, Submission.received_at)
                                                  .where(Submission.id.in_(missing))):
            parsed[sid] = read_fact(xml, received)
        session.execute(update(Submission).execution_options(synchronize_session=False),
                        [{"id": sid, "facts": fact.to_json()} for sid, fact in parsed.items()])
    by_household: dict[str, list[tuple[Fact, dt.datetime, int, int | None]]] = defaultdict(list)
    counts: dict[str, int] = defaultdict(int)
    states: dict[int, str] = {}
    for row in rows:
        if row.current and row.out_of_area:
            states[row.id] = "out_of_area"  # sent from outside the household's areas: waits for a supervisor
            continue
        fact = parsed.get(row.id) or Fact.from_json(row.facts)
        if fact.entity_update:
            counts[row.household_number] += 1  # every update the household received, edits included
        if row.current:
            by_household[row.household_number].append((fact, row.received_at, row.id, row.submitter_id))
        else:
            states[row.id] = "superseded"
    facts: dict[str, list[Fact]] = {}
    held_until: dict[str, list[tuple[int, dt.datetime]]] = {}
    # instance id → (submission id, submitter id), for the visit rows
    submitters: dict[str, tuple[int, int | None]] = {}
    for number, items in by_household.items():
        held = _held(items, options)
        facts[number] = [fact for fact, _received, sid, _user in items if sid not in held]
        held_until[number] = list(held.items())
        for fact, _received, sid, user in items:
            states[sid] = "held" if sid in held else "applied"
            submitters[fact.instance_id] = (sid, user)
    previous = {row.id: row.reconcile_state for row in rows}
    for state in ("superseded", "held", "applied", "out_of_area"):
        # reconciled_at records when a submission reached its state, so only changes are written
        ids = [sid for sid, s in states.items() if s == state and previous[sid] != state]
        if ids:
            session.execute(update(Submission).where(Submission.id.in_(ids))
                            .values(reconcile_state=state, reconciled_at=options.now))
    return facts, counts, held_until, submitters


def _held(items, options: ReconcileOptions) -> dict[int, dt.datetime]:
    """Offline chains: an edit built on a version that came from another offline edit of the same branch waits
    until that edit has arrived (ODK Central's backlog), or until the hold time has passed."""
    held: dict[int, dt.datetime] = {}
    branches: dict[str, list] = defaultdict(list)
    for item in items:
        fact = item[0]
        if fact.branch_id and fact.base_version is not None and fact.trunk_version is not None:
            branches[fact.branch_id].append(item)
    for chain in branches.values():
        chain.sort(key=lambda item: item[0].base_version)
        available: set[int] = set()
        for fact, received, sid, _user in chain:
            needs = fact.base_version > fact.trunk_version and fact.base_version - 1 not in available
            until = received + options.hold
            if needs and options.now < until:
                held[sid] = until
            else:
                available.add(fact.base_version)
    return held


def _ensure_recheck(session: Session, submission_id: int, until: dt.datetime) -> None:
    exists = session.scalar(select(Job.id).where(Job.kind == "reconcile", Job.submission_id == submission_id,
                                                 Job.state == "queued", Job.run_after >= until))
    if exists is None:
        session.add(Job(kind="reconcile", submission_id=submission_id, payload={"recheck": True}, run_after=until))


def _load_photos(session: Session, submission_ids: list[int]) -> dict[int, dict[str, dict]]:
    out: dict[int, dict[str, dict]] = defaultdict(dict)
    if submission_ids:
        for a in session.scalars(select(SubmissionAttachment).where(
                SubmissionAttachment.submission_id.in_(submission_ids))):
            out[a.submission_id][a.filename] = {"received": a.sha256 is not None, "image_check": a.image_check,
                                                "image_info": a.image_info}
    return out


def _judge_visits(household: Household, record: Record, photos: dict[int, dict[str, dict]],
                  submitters: dict[str, tuple[int, int | None]], options: ReconcileOptions) -> None:
    """Each visit's evidence verdict, and a proposed location for a household that has none."""
    evidence = options.rules.evidence
    location = None if household.latitude is None else (household.latitude, household.longitude)
    for visit in record.visits:
        submission_id = submitters[visit["instance_id"]][0]
        verdict = judge_visit(visit, location, photos.get(submission_id, {}),
                              dt.datetime.fromisoformat(visit["at"]), evidence)
        visit["verdict"], visit["reasons"] = verdict.verdict, verdict.reasons
    if location is None:
        proposal = proposed_location(record.visits, evidence)
        if proposal:
            record.fields["proposed_location"] = {"value": proposal, "source": "submission",
                                                  "instance_id": proposal["instance_id"], "at": proposal["at"]}


def _load_resolutions(session: Session, household_ids: list[int]) -> dict[int, list[Resolution]]:
    out: dict[int, list[Resolution]] = defaultdict(list)
    for row in session.scalars(select(ResolutionRow).where(ResolutionRow.household_id.in_(household_ids))):
        out[row.household_id].append(Resolution(conflict_key=row.conflict_key, field=row.field, value=row.value,
                                                by=row.resolved_by, at=row.resolved_at))
    return out


def _write(session: Session, records: dict[int, tuple[Household, Record, int]],
           submitters: dict[str, tuple[int, int | None]], now: dt.datetime) -> None:
    ids = list(records)
    # the visits as they were, so that only the coverage months whose counts change are marked stale
    before = session.execute(delete(Visit).where(Visit.household_id.in_(ids))
                             .returning(Visit.area_id, Visit.month, Visit.household_id, Visit.verdict)).all()
    for table in (Conflict, Finding, RecordMember):
        session.execute(delete(table).where(table.household_id.in_(ids)))
    session.execute(delete(HouseholdRecord).where(HouseholdRecord.household_id.in_(ids)))
    record_rows, visit_rows, conflict_rows, finding_rows, member_rows = [], [], [], [], []
    for household_id, (household, record, version) in records.items():
        record_rows.append({
            "household_id": household_id, "fields": record.fields, "members": record.members,
            "visits": record.visits, "assessments": record.assessments, "incomes": record.incomes, "events": record.events,
            "version": version, "size": len(record.members), "exit_eligible": record.exit_eligible,
            "open_conflicts": sum(1 for c in record.conflicts if c["state"] == "open"), "updated_at": now})
        for visit in record.visits:
            submission_id, submitter_id = submitters[visit["instance_id"]]
            gps = visit.get("gps") or {}
            date = _date(visit.get("date"))
            visit_rows.append({
                "submission_id": submission_id, "household_id": household_id, "area_id": household.area_id,
                "submitter_id": submitter_id, "visit_date": date, "month": date.strftime("%Y-%m") if date else None,
                "latitude": gps.get("latitude"), "longitude": gps.get("longitude"), "accuracy": gps.get("accuracy"),
                "verdict": visit["verdict"], "reasons": [r["code"] for r in visit["reasons"]]})
        for conflict in record.conflicts:
            conflict_rows.append({"key": conflict["key"], "household_id": household_id, "area_id": household.area_id,
                                  "field": conflict["field"], "base_version": conflict["base_version"],
                                  "state": conflict["state"], "entries": conflict["entries"],
                                  "current": conflict["current"]})
        for kind, items in (("monitoring", record.flags), ("quality", record.findings)):
            for item in items:
                finding_rows.append({"household_id": household_id, "area_id": household.area_id, "kind": kind,
                                     "code": item["code"], "message_zh": item["message_zh"],
                                     "message_en": item["message_en"], "details": item.get("details") or {}})
        seen = set()
        for member in record.members:
            if member.get("id_number") and member["id_number"] not in seen:
                seen.add(member["id_number"])
                member_rows.append({"household_id": household_id, "id_number": member["id_number"],
                                    "name": member["name"]})
    for model, rows in ((HouseholdRecord, record_rows), (Visit, visit_rows), (Conflict, conflict_rows),
                        (Finding, finding_rows), (RecordMember, member_rows)):
        if rows:
            session.execute(insert(model), rows)
    mark_stale(session, before, [(v["area_id"], v["month"], v["household_id"], v["verdict"]) for v in visit_rows])


def _date(value: str | None) -> dt.date | None:
    try:
        return dt.date.fromisoformat(value) if value else None
    except ValueError:
        return None
