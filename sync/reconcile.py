"""Writing household records: load a batch of households' inputs, fold each, replace their derived rows.

Works on batches (a handful for a worker's jobs, hundreds for a rebuild) with one query per table, so that a
county's 60,000 submissions rebuild in seconds. Call it inside a transaction; it flushes, the caller commits.

No submission may stop its household's record, let alone a batch: values are checked where the XML becomes a
fact (sync/facts.py); a submission that still cannot be read is left out with a finding on the record; and a
household whose fold fails all the same keeps its last record and is reported, while the rest are written.
"""
from __future__ import annotations

import dataclasses
import datetime as dt
import logging
import traceback
from collections import defaultdict
from typing import Iterable

from sqlalchemy import column, delete, func, insert, or_, select, table, union_all, update
from sqlalchemy.orm import Session, selectinload

from sync.coverage import mark_stale
from sync.entity_list import bump_revision
from sync.facts import Fact, as_received, cached_fact, read_fact, unreadable_finding
from sync.case_models import Case, CaseDecision
from sync.cases import Decision, derive_cases
from sync.renovation import Entry, derive_renovation
from sync.renovation_models import Renovation, RenovationEntry
from sync.monitoring import Decision as MonitoringDecisionFact, derive_monitoring
from sync.monitoring_models import MonitoringCase, MonitoringDecision
from sync.fold import Baseline, Record, Resolution, fold
from sync.evidence import entry_findings, judge_visit, proposed_location
from sync.forms import DEFINITIONS
from sync.models import Household, Job, Submission, SubmissionAttachment
from sync.photo_reuse import Use, partners_to_reconcile, reuse_findings, stored_hashes, uses_of
from sync.records import Conflict, Finding, HouseholdRecord, RecordMember, Resolution as ResolutionRow, Visit
from sync.review_models import HELD_OUT_OF_AREA
from sync.rules import RulesConfig
from sync.values import CHINA

log = logging.getLogger("zoufang.reconcile")
# the accounts table, without importing the server shell (domain packages may not import server.models)
_USERS = table("users", column("id"), column("username"))


@dataclasses.dataclass(frozen=True)
class ReconcileOptions:
    rules: RulesConfig
    #: how long a submission waits for the earlier offline edit it builds on before it is applied anyway
    hold: dt.timedelta
    #: "now", given so that tests and rebuilds are deterministic
    now: dt.datetime
    #: how far ahead of the server a phone's clock may be: a form is never counted as filled later than it
    #: arrived plus this
    clock_skew: dt.timedelta = dt.timedelta(minutes=10)


@dataclasses.dataclass
class Reconciled:
    """What `reconcile_households` did: the households written, those it could not fold (with the error, their
    last record kept) and the submissions it left out or whose values it ignored (household, instance id, why)."""
    households: list[str]
    failed: dict[str, str] = dataclasses.field(default_factory=dict)
    skipped: list[dict[str, str]] = dataclasses.field(default_factory=list)


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


def _other_rules(digest: str):
    """Folded with other rules than `digest`: as two ranges and NULL, each of which the index on rules_digest
    serves (`!=` it cannot), so that finding the few stale records reads only them."""
    digests = HouseholdRecord.rules_digest
    return or_(digests.is_(None), digests < digest, digests > digest)


def stale_records(session: Session, digest: str) -> tuple[int, int]:
    """(records folded with other rules than `digest`, every record), for the admin page's refold progress. Both
    are read through the index on rules_digest: the stale ones first (none, but during a refold), and the others
    only when some are stale, so that the page reads no record at all while none is (issue 18: it counted every
    record on each view)."""
    digests = HouseholdRecord.rules_digest
    # the three ranges of _other_rules apart: as one OR, PostgreSQL may read the whole index where it has few rows
    ranges = union_all(*(select(digests).where(bound) for bound in (digests.is_(None), digests < digest,
                                                                    digests > digest)))
    stale = session.scalar(select(func.count()).select_from(ranges.subquery()))
    if not stale:
        return 0, 0
    current = session.scalar(select(func.count()).select_from(HouseholdRecord)
                             .where(HouseholdRecord.rules_digest == digest))
    return stale, stale + current


def households_with_stale_records(session: Session, digest: str) -> list[str]:
    """The households whose record was folded with other rules than `digest`, by number, in the order of their
    ids. Two steps, so that each reads through an index: the stale records through theirs on rules_digest (at a
    start without a change of rules, none), then their households by id (joined, PostgreSQL may walk every
    household instead)."""
    ids = list(session.scalars(select(HouseholdRecord.household_id).where(_other_rules(digest))
                               .order_by(HouseholdRecord.household_id)))
    numbers = []
    for start in range(0, len(ids), 1000):
        numbers += session.scalars(select(Household.number).where(Household.id.in_(ids[start:start + 1000]))
                                   .order_by(Household.id))
    return numbers


def mark_unattached(session: Session, submission_ids: Iterable[int], now: dt.datetime) -> None:
    """Submissions that name no known household are kept as they are, and say why they are not in a record.

    The numbers they name are looked up in the households' unique index, and only then are the unknown ones
    marked: asked as one anti-join (NOT IN or NOT EXISTS), PostgreSQL reads every household whenever it guesses
    that cheaper than a lookup per submission, which on 50,000 households it does (issue 18; bench/scale.py)."""
    ids = list(submission_ids)
    if not ids:
        return
    session.execute(update(Submission).where(Submission.id.in_(ids), Submission.household_number.is_(None))
                    .values(reconcile_state="no_household", reconciled_at=now))
    named = session.execute(select(Submission.id, Submission.household_number)
                            .where(Submission.id.in_(ids), Submission.household_number.is_not(None))).all()
    known = set(session.scalars(select(Household.number).where(
        Household.number.in_({number for _id, number in named})))) if named else set()
    unknown = [sid for sid, number in named if number not in known]
    if unknown:
        session.execute(update(Submission).where(Submission.id.in_(unknown))
                        .values(reconcile_state="unknown_household", reconciled_at=now))


def reconcile_households(session: Session, numbers: Iterable[str], options: ReconcileOptions,
                         reparse: bool = False) -> Reconciled:
    """Recompute the records of these households (known households only)."""
    numbers = sorted(set(numbers))
    if not numbers:
        return Reconciled([])
    households = session.scalars(select(Household).where(Household.number.in_(numbers))
                                 .options(selectinload(Household.members)).order_by(Household.id)
                                 .with_for_update()).all()
    if not households:
        return Reconciled([])
    by_number = {h.number: h for h in households}
    facts, counts, held_until, submitters, unreadable, roots = _load_facts(session, list(by_number), options,
                                                                            reparse)
    resolutions = _load_resolutions(session, [h.id for h in households])
    decisions = _load_case_decisions(session, [h.id for h in households])
    entries = _load_renovation_entries(session, [h.id for h in households])
    monitoring_decisions = _load_monitoring_decisions(session, [h.id for h in households])
    photos = _load_photos(session, [sid for sid, _user, _duty in submitters.values()])
    today = options.now.astimezone(dt.timezone(dt.timedelta(hours=8))).date()
    records: dict[int, tuple[Household, Record, int]] = {}
    cases: dict[int, list[dict]] = {}
    ledgers: dict[int, dict | None] = {}
    monitoring: dict[int, list[dict]] = {}
    result = Reconciled(list(by_number))
    for household in households:
        baseline = Baseline(number=household.number, status=household.status,
                            members=[_member_dict(m) for m in household.members],
                            monitoring_type=household.monitoring_type)
        ids = resolutions.get(household.id, [])
        try:
            record = fold(baseline, facts.get(household.number, []), ids, options.rules, today)
            _judge_evidence(household, record, photos, submitters, options)
            cases[household.id] = derive_cases(household.number, facts.get(household.number, []),
                                               decisions.get(household.id, []), record.members, options.rules, today)
            ledgers[household.id] = derive_renovation(facts.get(household.number, []), entries.get(household.id, []),
                                                      household.status, household.monitoring_type,
                                                      record.members, options.rules)
            open_kinds = [c["kind"] for c in cases[household.id] if c["state"] in ("open", "reopened")]
            monitoring[household.id] = derive_monitoring(household.number, facts.get(household.number, []),
                                                         monitoring_decisions.get(household.id, []),
                                                         household.status, household.monitoring_type, open_kinds,
                                                         options.rules, today, roots)
        except Exception:  # a bug met by one household's data must not stop the others' records
            log.exception("household %s could not be reconciled", household.number)
            result.failed[household.number] = traceback.format_exc(limit=5)
            continue
        record.findings.extend(unreadable.get(household.number, []))
        version = household.roster_version + counts.get(household.number, 0) + len(ids)
        records[household.id] = (household, record, version)
        result.skipped += [{"household": household.number, "instance_id": f["details"]["instance_id"],
                            "reason": f["message_en"]} for f in record.findings
                           if f["code"] in ("value_out_of_range", "submission_unreadable")]
    _photo_reuse(session, records, facts, photos, submitters)
    if result.failed:
        result.households = [n for n in result.households if n not in result.failed]
        session.execute(update(Submission).where(Submission.household_number.in_(list(result.failed)),
                                                 Submission.current.is_(True))
                        .values(reconcile_state="failed", reconciled_at=options.now))
    _write(session, records, submitters, options.now, options.rules.digest)
    _write_cases(session, records, cases)
    _write_renovations(session, records, ledgers)
    _write_monitoring(session, records, monitoring)
    for instance_ids_until in held_until.values():
        for submission_id, until in instance_ids_until:
            _ensure_recheck(session, submission_id, until)
    bump_revision(session, "households")
    session.flush()
    return result


def _member_dict(member) -> dict:
    return {"name": member.name, "id_number": member.id_number, "relation": member.relation, "sex": member.sex,
            "birth_date": member.birth_date.isoformat(), "schooling": member.schooling, "insured": member.insured,
            "health": member.health, "labour": member.labour, "source": "roster"}


def _load_facts(session: Session, numbers: list[str], options: ReconcileOptions, reparse: bool):
    rows = session.execute(select(Submission.id, Submission.household_number, Submission.current,
                                  Submission.facts, Submission.received_at, Submission.submitter_id,
                                  Submission.reconcile_state, Submission.instance_id, Submission.visitor_duty,
                                  Submission.root_instance_id, HELD_OUT_OF_AREA.label("out_of_area"))
                           .where(Submission.household_number.in_(numbers))).all()
    read, errors = _read_facts(session, rows, reparse)
    accounts = _account_names(session, {row.submitter_id for row in rows})
    by_household: dict[str, list[tuple[Fact, dt.datetime, int, tuple[int | None, str | None]]]] = defaultdict(list)
    counts: dict[str, int] = defaultdict(int)
    states: dict[int, str] = {}
    # household → findings on its submissions that could not be read (left out of the record)
    unreadable: dict[str, list[dict]] = defaultdict(list)
    for row in rows:
        if row.current and row.out_of_area:
            states[row.id] = "out_of_area"  # sent from outside the household's areas: waits for a supervisor
            continue
        if row.id in errors:
            if row.current:
                unreadable[row.household_number].append(unreadable_finding(row.instance_id, errors[row.id]))
            states[row.id] = "unreadable" if row.current else "superseded"
            continue
        fact = as_received(read[row.id], accounts.get(row.submitter_id), row.received_at, options.clock_skew)
        if fact.entity_update:
            counts[row.household_number] += 1  # every update the household received, edits included
        if row.current:
            by_household[row.household_number].append((fact, row.received_at, row.id,
                                                        (row.submitter_id, row.visitor_duty)))
        else:
            states[row.id] = "superseded"
    facts: dict[str, list[Fact]] = {}
    held_until: dict[str, list[tuple[int, dt.datetime]]] = {}
    # instance id → (submission id, submitter id, the visitor's role when it was received), for the visit rows
    submitters: dict[str, tuple[int, int | None, str | None]] = {}
    for number, items in by_household.items():
        held = _held(items, options)
        facts[number] = [fact for fact, _received, sid, _user in items if sid not in held]
        held_until[number] = list(held.items())
        for fact, _received, sid, (user, duty) in items:
            states[sid] = "held" if sid in held else "applied"
            submitters[fact.instance_id] = (sid, user, duty)
    previous = {row.id: row.reconcile_state for row in rows}
    for state in ("superseded", "held", "applied", "unreadable", "out_of_area"):
        # reconciled_at records when a submission reached its state, so only changes are written
        ids = [sid for sid, s in states.items() if s == state and previous[sid] != state]
        if ids:
            session.execute(update(Submission).where(Submission.id.in_(ids))
                            .values(reconcile_state=state, reconciled_at=options.now))
    # an edit's instance id → the first version's, which names what the edit's chain opened (a monitoring case)
    roots = {row.instance_id: row.root_instance_id for row in rows
             if row.current and row.root_instance_id and row.root_instance_id != row.instance_id}
    return facts, counts, held_until, submitters, unreadable, roots


def _read_facts(session: Session, rows, reparse: bool) -> tuple[dict[int, Fact], dict[int, str]]:
    """Submission id → its fact: the cached one, or read again from the XML (and cached) when there is none,
    it was cached by an older reader, or `reparse`. A submission whose XML cannot be read is returned in the
    second map with the error, so that its household is reconciled without it."""
    facts = {} if reparse else {row.id: cached_fact(row.facts) for row in rows}
    missing = [row.id for row in rows if facts.get(row.id) is None]
    errors: dict[int, str] = {}
    if missing:
        parsed: dict[int, Fact] = {}
        for sid, xml, received in session.execute(select(Submission.id, Submission.xml, Submission.received_at)
                                                  .where(Submission.id.in_(missing))):
            try:
                parsed[sid] = read_fact(xml, received)
            except Exception as error:  # whatever the reader trips over, the household goes on without it
                log.warning("submission %s could not be read: %r", sid, error)
                errors[sid] = f"{type(error).__name__}: {error}"[:200]
        # only what changed is written: a rebuild re-reads every submission, and rewriting the rows of an unchanged
        # reader's facts would rewrite every submission (its XML with it) for nothing
        stored = {row.id: row.facts for row in rows}
        changed = [{"id": sid, "facts": facts_json} for sid, fact in parsed.items()
                   if (facts_json := fact.to_json()) != stored.get(sid)]
        if changed:
            session.execute(update(Submission).execution_options(synchronize_session=False), changed)
        facts.update(parsed)
    return facts, errors


def _account_names(session: Session, user_ids: set[int | None]) -> dict[int, str]:
    """Who sent a submission, as the household file names them: the authenticated account's user name."""
    ids = [i for i in user_ids if i is not None]
    if not ids:
        return {}
    return dict(session.execute(select(_USERS.c.id, _USERS.c.username).where(_USERS.c.id.in_(ids))).all())


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
                                                "image_info": a.image_info, "sha256": a.sha256}
    return out


def _judge_evidence(household: Household, record: Record, photos: dict[int, dict[str, dict]],
                    submitters: dict[str, tuple[int, int | None, str | None]], options: ReconcileOptions) -> None:
    """Each visit's evidence verdict, the other forms' evidence as findings, and a proposed location for a
    household that has none."""
    evidence = options.rules.evidence
    location = None if household.latitude is None else (household.latitude, household.longitude)
    for visit in record.visits:
        submission_id = submitters[visit["instance_id"]][0]
        verdict = judge_visit(visit, location, photos.get(submission_id, {}),
                              dt.datetime.fromisoformat(visit["at"]), evidence)
        visit["verdict"], visit["reasons"] = verdict.verdict, verdict.reasons
    collections = {"assessments": record.assessments, "incomes": record.incomes}
    for form in DEFINITIONS.values():
        if form.evidence and not form.counts_as_visit and form.collection in collections:
            for entry in collections[form.collection]:
                submission_id = submitters[entry["instance_id"]][0]
                record.findings.extend(entry_findings(form, entry, location, photos.get(submission_id, {}),
                                                      evidence))
    if location is None:
        proposal = proposed_location(record.visits, evidence)
        if proposal:
            record.fields["proposed_location"] = {"value": proposal, "source": "submission",
                                                  "instance_id": proposal["instance_id"], "at": proposal["at"]}


def _photo_reuse(session: Session, records: dict[int, tuple[Household, Record, int]], facts: dict[str, list[Fact]],
                 photos: dict[int, dict[str, dict]], submitters: dict[str, tuple[int, int | None, str | None]]) -> None:
    """The batch's photos used for another household or in another month (sync/photo_reuse.py), as findings on
    its records; the other households whose findings no longer agree are queued to be reconciled again."""
    own: dict[str, list[Use]] = defaultdict(list)
    months: dict[int, str] = {}
    for household, _record, _version in records.values():
        for fact in facts.get(household.number, []):
            submission_id = submitters[fact.instance_id][0]
            months[submission_id] = _month(fact)
            for filename, photo in photos.get(submission_id, {}).items():
                if photo["sha256"]:
                    own[household.number].append(Use(photo["sha256"], submission_id, fact.instance_id,
                                                     household.number, filename))
    hashes = {use.sha256 for uses in own.values() for use in uses} | stored_hashes(session, list(records))
    uses = uses_of(session, hashes) if hashes else []
    for household, record, _version in records.values():
        record.findings.extend(reuse_findings(own[household.number], uses, months))
    partners = partners_to_reconcile(session, {household.number for household, _r, _v in records.values()}, uses)
    if partners:
        session.add(Job(kind="reconcile", payload={"households": partners}))


def _month(fact: Fact) -> str:
    """The month of the form's date, or of when it was filled."""
    date = fact.record.get("date")
    return date[:7] if date else fact.observed_at.astimezone(CHINA).strftime("%Y-%m")


def _load_resolutions(session: Session, household_ids: list[int]) -> dict[int, list[Resolution]]:
    out: dict[int, list[Resolution]] = defaultdict(list)
    for row in session.scalars(select(ResolutionRow).where(ResolutionRow.household_id.in_(household_ids))):
        out[row.household_id].append(Resolution(conflict_key=row.conflict_key, field=row.field, value=row.value,
                                                by=row.resolved_by, at=row.resolved_at))
    return out


def _load_case_decisions(session: Session, household_ids: list[int]) -> dict[int, list[Decision]]:
    out: dict[int, list[Decision]] = defaultdict(list)
    for row in session.scalars(select(CaseDecision).where(CaseDecision.household_id.in_(household_ids))):
        out[row.household_id].append(Decision(id=row.id, case_key=row.case_key, kind=row.kind, text=row.text,
                                              by=row.by_name, at=row.at))
    return out


def _write_cases(session: Session, records: dict[int, tuple[Household, Record, int]],
                 cases: dict[int, list[dict]]) -> None:
    """The households' cases (sync/cases.py) replace their previous ones, as their conflicts and findings do."""
    ids = list(records)
    session.execute(delete(Case).where(Case.household_id.in_(ids)))
    rows = []
    for household_id, (household, _record, _version) in records.items():
        for case in cases[household_id]:
            rows.append({
                "key": case["key"], "household_id": household_id, "area_id": household.area_id,
                "kind": case["kind"], "subject": case["subject"], "state": case["state"],
                "opened_at": dt.datetime.fromisoformat(case["opened_at"]),
                "source_instance_id": case["source_instance_id"], "closed_at": _instant(case["closed_at"]),
                "closing_instance_id": case["closing_instance_id"],
                "closing_decision_id": case["closing_decision_id"], "cadre": household.cadre,
                "last_measure_at": _instant(case["last_measure_at"]),
                "history": case["history"]})
    if rows:
        session.execute(insert(Case), rows)


def _load_renovation_entries(session: Session, household_ids: list[int]) -> dict[int, list[Entry]]:
    out: dict[int, list[Entry]] = defaultdict(list)
    for row in session.scalars(select(RenovationEntry).where(RenovationEntry.household_id.in_(household_ids))):
        out[row.household_id].append(Entry(id=row.id, kind=row.kind, value=row.value, by=row.by_name, at=row.at))
    return out


def _write_renovations(session: Session, records: dict[int, tuple[Household, Record, int]],
                       ledgers: dict[int, dict | None]) -> None:
    """The households' renovation ledger rows (sync/renovation.py) replace their previous ones."""
    session.execute(delete(Renovation).where(Renovation.household_id.in_(list(records))))
    rows = []
    for household_id, (household, _record, _version) in records.items():
        ledger = ledgers[household_id]
        if ledger is None:
            continue
        days = {name: _date(ledger[name]) for name in ("graded_on", "paid_on", "started_on", "finished_on",
                                                      "moved_in_on", "old_dealt_on", "deadline")}
        rows.append({**{k: v for k, v in ledger.items() if k in _RENOVATION_COLUMNS}, **days,
                     "household_id": household_id, "area_id": household.area_id})
    if rows:
        session.execute(insert(Renovation), rows)


_RENOVATION_COLUMNS = frozenset(Renovation.__table__.columns.keys())


def _load_monitoring_decisions(session: Session, household_ids: list[int]) -> dict[int, list[MonitoringDecisionFact]]:
    out: dict[int, list[MonitoringDecisionFact]] = defaultdict(list)
    for row in session.scalars(select(MonitoringDecision).where(MonitoringDecision.household_id.in_(household_ids))):
        out[row.household_id].append(MonitoringDecisionFact(id=row.id, case_key=row.case_key, kind=row.kind,
                                                            value=row.value, text=row.text, by=row.by_name,
                                                            at=row.at))
    return out


def _write_monitoring(session: Session, records: dict[int, tuple[Household, Record, int]],
                      monitoring: dict[int, list[dict]]) -> None:
    """The households' monitoring cases (sync/monitoring.py) replace their previous ones."""
    session.execute(delete(MonitoringCase).where(MonitoringCase.household_id.in_(list(records))))
    rows = []
    for household_id, (household, _record, _version) in records.items():
        for case in monitoring[household_id]:
            rows.append({**{k: v for k, v in case.items() if k in _MONITORING_COLUMNS},
                         **{name: _instant(case[name]) for name in ("proposed_at", "identified_at", "ended_at")},
                         "household_id": household_id, "area_id": household.area_id, "cadre": household.cadre})
    if rows:
        session.execute(insert(MonitoringCase), rows)


_MONITORING_COLUMNS = frozenset(MonitoringCase.__table__.columns.keys())


def _instant(value: str | None) -> dt.datetime | None:
    return dt.datetime.fromisoformat(value) if value else None


def _write(session: Session, records: dict[int, tuple[Household, Record, int]],
           submitters: dict[str, tuple[int, int | None, str | None]], now: dt.datetime, rules_digest: str) -> None:
    ids = list(records)
    # the visits as they were, so that only the coverage months whose counts change are marked stale
    before = session.execute(delete(Visit).where(Visit.household_id.in_(ids))
                             .returning(Visit.area_id, Visit.month, Visit.household_id, Visit.verdict)).all()
    for derived in (Conflict, Finding, RecordMember):
        session.execute(delete(derived).where(derived.household_id.in_(ids)))
    session.execute(delete(HouseholdRecord).where(HouseholdRecord.household_id.in_(ids)))
    record_rows, visit_rows, conflict_rows, finding_rows, member_rows = [], [], [], [], []
    for household_id, (household, record, version) in records.items():
        record_rows.append({
            "household_id": household_id, "fields": record.fields, "members": record.members,
            "visits": record.visits, "assessments": record.assessments, "incomes": record.incomes, "events": record.events,
            "version": version, "size": len(record.members), "exit_eligible": record.exit_eligible,
            "open_conflicts": sum(1 for c in record.conflicts if c["state"] == "open"), "updated_at": now,
            "rules_digest": rules_digest})
        for visit in record.visits:
            submission_id, submitter_id, visitor_duty = submitters[visit["instance_id"]]
            gps = visit.get("gps") or {}
            date = _date(visit.get("date"))
            visit_rows.append({
                "submission_id": submission_id, "household_id": household_id, "area_id": household.area_id,
                "submitter_id": submitter_id, "visitor_duty": visitor_duty, "visit_date": date, "month": date.strftime("%Y-%m") if date else None,
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
