"""Accepting a submission: the decisions ODK Collect and Enketo rely on, in the order they are taken.

Three steps, so that no database write lock is held while files reach the disk:

1. `plan_submission` reads only. The XML must parse and name a form, a version and an instanceID (invalid);
   the form must exist (not found), accept submissions (a conflict when closed) and have that version (not
   found). A known instanceID with different XML is a conflict; with byte-identical XML it is the continuation
   of a split upload, which still wants the files that have not arrived.
2. `store_files` makes the wanted files durable in the media store. The store is content-addressed, so a file
   stored for a request that then fails is harmless and is not stored twice when the request is repeated.
3. `record_submission` is one short write transaction. A new submission is inserted with every file its XML
   names — received, or recorded as expected-missing — and its reconcile and image jobs, so an acknowledged
   submission is never lost. A continuation gets the files it lacked. An edit (meta/deprecatedID) must name the
   current version of a known submission (not found, conflict).

Who may write what: a continuation only from the account that sent the submission, an edit also from a supervisor
or admin whose areas cover the edited submission's household (forbidden otherwise, nothing changed). A submission (or an
edit) about a household outside the sender's areas is stored all the same, filed under the household's area, and
marked out of area (超出辖区): the reconciler leaves it out of the record until a supervisor of that area accepts
it (sync.review). Admins are never out of area. Of concurrent edits of one version only one becomes current: the
database keeps one current version per chain (uq_submissions_current_root), the others are refused as conflicts.
The refusals are `DomainError`s of those kinds; the web shell gives each kind its HTTP status.

`accept_submission` runs the three in one ORM session's transaction (the demo, tests). The HTTP handler runs
the first step, and the last one for a new submission (`record_new`), on a `DirectConnection`
(server/db/prepared.py) in two short transactions, and leaves the rarer cases (a split upload's continuation,
an edit) to `record_submission` on the ORM session.
"""
from __future__ import annotations

import dataclasses
import datetime as dt
import hashlib

from sqlalchemy import Integer, and_, bindparam, case, column, exists, func, insert, or_, select, table, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from forms.models import Form, FormVersion
from media.images import looks_like_image
from media.store import SpooledUpload, Store
from server.db import utcnow
from server.db.prepared import DirectConnection, Prepared
from server.errors import DomainError
from sync.instance import ParsedInstance, parse_instance, referenced_files
from sync.models import Area, Household, Job, Submission, SubmissionAttachment

# The new-submission path is the server's busiest. It speaks to the tables with prepared statements on the
# driver's connection (server/db/prepared.py), without the ORM's unit of work or Core's per-execution set-up.
SUBMISSIONS = Submission.__table__
ATTACHMENTS = SubmissionAttachment.__table__
JOBS = Job.__table__
_FORMS, _VERSIONS = Form.__table__, FormVersion.__table__
#: server.models.UserArea's table, named here because the domain packages do not import the server's models
_USER_AREAS = table("user_areas", column("user_id"), column("area_id"))
#: the form, the version the XML names and the submission with its instanceID, in one round trip
_FORM_VERSION_EXISTING = Prepared(
    select(_FORMS.c.id, _FORMS.c.state, _VERSIONS.c.id.label("version_id"), _VERSIONS.c.binary_paths,
           SUBMISSIONS.c.id.label("existing_id"), SUBMISSIONS.c.xml_sha256.label("existing_sha256"))
    .outerjoin(_VERSIONS, and_(_VERSIONS.c.form_id == _FORMS.c.id, _VERSIONS.c.version == bindparam("version")))
    .outerjoin(SUBMISSIONS, and_(SUBMISSIONS.c.form_id == _FORMS.c.id,
                                 SUBMISSIONS.c.instance_id == bindparam("instance_id")))
    .where(_FORMS.c.xml_form_id == bindparam("xml_form_id")))
_STILL_EXPECTED = Prepared(select(ATTACHMENTS.c.filename).where(
    ATTACHMENTS.c.submission_id == bindparam("submission_id"), ATTACHMENTS.c.sha256.is_(None)))
#: server.models.User's table, for the sender's role
_USERS = table("users", column("id"), column("role"))
_SENDER = bindparam("submitter_id", type_=Integer())
_SENDER_AREAS = Area.__table__.alias("sender_areas")
_HOUSEHOLD_AREAS = Area.__table__.alias("household_areas")


def _sender_covers(path) -> exists:
    """The sender is an admin, or one of their areas is this area path or above it."""
    return or_(exists().where(_USERS.c.id == _SENDER, _USERS.c.role == "admin"),
               exists().select_from(_USER_AREAS.join(_SENDER_AREAS, _SENDER_AREAS.c.id == _USER_AREAS.c.area_id))
               .where(_USER_AREAS.c.user_id == _SENDER, path.startswith(_SENDER_AREAS.c.path)))


#: the submission names a known household that the sender's areas do not cover (one scalar subquery, inside the
#: insert: no round trip of its own on the busiest path)
_OUT_OF_AREA = exists().select_from(Household.__table__.join(_HOUSEHOLD_AREAS,
                                                             _HOUSEHOLD_AREAS.c.id == Household.area_id)).where(
    Household.number == bindparam("household_number"), ~_sender_covers(_HOUSEHOLD_AREAS.c.path))
#: the sender is a supervisor or admin whose areas cover the area :area_id
_REVIEWER_COVERS = exists().where(_USERS.c.id == _SENDER, _USERS.c.role.in_(("supervisor", "admin")),
                                  _sender_covers(select(Area.path).where(Area.id == bindparam("area_id"))
                                                 .scalar_subquery()))
#: the submission's area for scoping: its household's, else the sender's area when they have exactly one
_AREA = func.coalesce(
    select(Household.area_id).where(Household.number == bindparam("household_number")).scalar_subquery(),
    select(case((func.count() == 1, func.min(_USER_AREAS.c.area_id))))
    .where(_USER_AREAS.c.user_id == bindparam("submitter_id", type_=Integer())).scalar_subquery())
_INSERT_ATTACHMENTS = Prepared(insert(ATTACHMENTS).values(
    {name: bindparam(name) for name in ("submission_id", "filename", "sha256", "size", "content_type",
                                        "received_at")}))
_INSERT_JOBS = Prepared(insert(JOBS).values(
    {name: bindparam(name) for name in ("kind", "submission_id", "payload")}))


@dataclasses.dataclass
class IncomingFile:
    filename: str
    content_type: str | None
    upload: SpooledUpload


@dataclasses.dataclass(frozen=True)
class StoredFile:
    sha256: str
    size: int
    content_type: str | None


@dataclasses.dataclass
class Sender:
    user_id: int | None
    device_id: int | None = None
    client_device_id: str | None = None


@dataclasses.dataclass(frozen=True)
class Plan:
    """What `plan_submission` found out, for the two steps that follow."""

    parsed: ParsedInstance
    xml: bytes
    xml_sha256: str
    form_id: int
    version_id: int
    #: the files the XML names, in document order
    referenced: tuple[str, ...]
    #: the stored submission with this instanceID (a split upload continues), or None
    existing_id: int | None
    #: the files still to receive: all referenced ones for a new submission, the missing ones for an existing one
    wanted: frozenset[str]

    @property
    def is_new(self) -> bool:
        """A new submission, not the continuation of a stored one nor an edit."""
        return self.existing_id is None and self.parsed.deprecated_id is None


@dataclasses.dataclass
class Accepted:
    submission_id: int
    created: bool
    #: file names received in this request
    added: list[str]
    #: file names the XML names that have not arrived yet
    missing: list[str]


def accept_submission(session: Session, store: Store, xml: bytes, files: dict[str, IncomingFile],
                      sender: Sender) -> Accepted:
    plan = plan_submission(DirectConnection.of_session(session), xml)
    return record_submission(session, plan, store_files(store, plan, files), sender)


def plan_submission(connection: DirectConnection, xml: bytes) -> Plan:
    """Reads only."""
    parsed = parse_instance(xml)
    found = _form_version_existing(connection, parsed)
    xml_sha256 = hashlib.sha256(xml).hexdigest()
    referenced = tuple(referenced_files(parsed.root, found.binary_paths))
    if found.existing_id is None:
        wanted = frozenset(referenced)
    else:
        _same_xml(found.existing_sha256, xml_sha256)
        wanted = frozenset(row.filename for row in connection.rows(_STILL_EXPECTED,
                                                                   {"submission_id": found.existing_id}))
    return Plan(parsed=parsed, xml=xml, xml_sha256=xml_sha256, form_id=found.id, version_id=found.version_id,
                referenced=referenced, existing_id=found.existing_id, wanted=wanted)


def store_files(store: Store, plan: Plan, files: dict[str, IncomingFile]) -> dict[str, StoredFile]:
    """Make the files the plan wants durable; files the XML does not name are ignored, as Central does."""
    stored = {}
    for name in sorted(plan.wanted & files.keys()):
        incoming = files[name]
        size = incoming.upload.size
        stored[name] = StoredFile(sha256=store.commit(incoming.upload), size=size,
                                  content_type=(incoming.content_type or "")[:100] or None)
    return stored


def record_new(connection: DirectConnection, plan: Plan, stored: dict[str, StoredFile],
               sender: Sender) -> Accepted | None:
    """The common case: a new submission, not an edit. None when it is not one, or when a retry of the same
    upload raced this request and stored it first; `record_submission` then continues it."""
    if not plan.is_new:
        return None
    now = utcnow()
    submission_id = _insert_new(connection, plan, sender, now)
    if submission_id is None:
        return None
    _insert_attachments(connection, submission_id, plan.referenced, stored, now)
    _insert_jobs(connection, submission_id, stored)
    return Accepted(submission_id, True, sorted(stored), [n for n in plan.referenced if n not in stored])


def record_submission(session: Session, plan: Plan, stored: dict[str, StoredFile], sender: Sender) -> Accepted:
    accepted = record_new(DirectConnection.of_session(session), plan, stored, sender)
    if accepted is not None:
        return accepted
    now = utcnow()
    existing = _find(session, plan.form_id, plan.parsed.instance_id)
    if existing is None:
        return _create_edit(session, plan, stored, sender, now)
    return _continue(session, existing, plan, stored, sender, now)


def _continue(session: Session, existing: Submission, plan: Plan, stored: dict[str, StoredFile], sender: Sender,
              now: dt.datetime) -> Accepted:
    """The same instanceID again: with the same XML, add the files that were still expected."""
    _same_xml(existing.xml_sha256, plan.xml_sha256)
    if existing.submitter_id != sender.user_id:
        raise DomainError("forbidden", "submission.not_sender",
                          "这份提交是另一个账号发送的，只有原发送人可以补传它的文件。",
                          "This submission was sent by another account; only its sender may send its files.")
    added = _attach(existing, stored, now)
    if added:
        _queue_reconcile(session, existing)
        _queue_images(session, existing, added)
    session.flush()
    return Accepted(existing.id, False, added, _missing(existing))


def _same_xml(stored_sha256: str, xml_sha256: str) -> None:
    if stored_sha256 != xml_sha256:
        raise DomainError("conflict", "submission.xml_conflict",
                          "已有一份相同 ID（instanceID）的提交，但内容不同。请勿修改已发送的表单后重发。",
                          "A submission already exists with this ID, but with different XML.")


def _form_version_existing(connection: DirectConnection, parsed: ParsedInstance):
    """The form's id and state, the version's id and binary paths, and the existing submission's id and XML
    digest (None when new)."""
    row = connection.first(_FORM_VERSION_EXISTING, {
        "xml_form_id": parsed.xml_form_id, "version": parsed.version, "instance_id": parsed.instance_id})
    if row is None:
        raise DomainError("not_found", "form.not_found", f"服务器上没有表单“{parsed.xml_form_id}”。",
                          f"There is no form '{parsed.xml_form_id}' on this server.")
    if row.state == "closed":
        raise DomainError("conflict", "form.closed", f"表单“{parsed.xml_form_id}”已关闭，不再接收提交。",
                          f"The form '{parsed.xml_form_id}' is closed and does not accept submissions.")
    if row.version_id is None:
        raise DomainError("not_found", "form.version_not_found",
                          f"表单“{parsed.xml_form_id}”没有版本“{parsed.version}”。请在 Collect 中更新表单。",
                          f"The form '{parsed.xml_form_id}' has no version '{parsed.version}'. "
                          "Update the form on the device.")
    return row


def _sender_params(parsed: ParsedInstance, sender: Sender) -> dict:
    return {"household_number": parsed.household_number, "submitter_id": sender.user_id}


def _insert_new_statement(dialect) -> Prepared:
    columns = ("form_id", "form_version_id", "instance_id", "xml", "xml_sha256", "instance_name",
               "household_number", "device_id", "client_device_id", "received_at")
    return Prepared(dialect.insert(SUBMISSIONS)
                    .values({**{name: bindparam(name) for name in columns}, "deprecated_id": None, "current": True,
                             "submitter_id": _SENDER, "area_id": _AREA, "out_of_area": _OUT_OF_AREA,
                             "root_instance_id": bindparam("instance_id")})
                    .on_conflict_do_nothing(index_elements=[SUBMISSIONS.c.form_id, SUBMISSIONS.c.instance_id])
                    .returning(SUBMISSIONS.c.id))


#: INSERT … ON CONFLICT DO NOTHING is written in each dialect's own construct
_INSERT_NEW = {"sqlite": _insert_new_statement(sqlite), "postgresql": _insert_new_statement(postgresql)}


def _insert_new(connection: DirectConnection, plan: Plan, sender: Sender, now: dt.datetime) -> int | None:
    """The new submission's id, or None when one with this instanceID exists already."""
    parsed = plan.parsed
    return connection.scalar(_INSERT_NEW[connection.dialect.name], {
        "form_id": plan.form_id, "form_version_id": plan.version_id, "instance_id": parsed.instance_id,
        "xml": plan.xml, "xml_sha256": plan.xml_sha256, "instance_name": parsed.instance_name,
        "device_id": sender.device_id, "client_device_id": sender.client_device_id,
        "received_at": now, **_sender_params(parsed, sender)})


def _insert_attachments(connection: DirectConnection, submission_id: int, referenced: tuple[str, ...],
                        stored: dict[str, StoredFile], now: dt.datetime) -> None:
    if not referenced:
        return
    rows = []
    for name in referenced:
        received = stored.get(name)
        rows.append({"submission_id": submission_id, "filename": name,
                     "sha256": received.sha256 if received else None,
                     "size": received.size if received else None,
                     "content_type": received.content_type if received else None,
                     "received_at": now if received else None})
    connection.execute(_INSERT_ATTACHMENTS, rows)


def _insert_jobs(connection: DirectConnection, submission_id: int, stored: dict[str, StoredFile]) -> None:
    """A reconcile job, and an image job per photo: photos are checked and get thumbnails in the worker, never
    in the upload request."""
    jobs = [{"kind": "reconcile", "submission_id": submission_id, "payload": {}}]
    jobs += [{"kind": "image", "submission_id": submission_id, "payload": {"filename": name}}
             for name, received in stored.items() if looks_like_image(name, received.content_type)]
    connection.execute(_INSERT_JOBS, jobs)


def _find(session: Session, form_id: int, instance_id: str) -> Submission | None:
    return session.scalar(select(Submission).where(Submission.form_id == form_id,
                                                   Submission.instance_id == instance_id))


def _missing(submission: Submission) -> list[str]:
    return [a.filename for a in submission.attachments if a.sha256 is None]


def _create_edit(session: Session, plan: Plan, stored: dict[str, StoredFile], sender: Sender,
                 now: dt.datetime) -> Accepted:
    parsed = plan.parsed
    replaced = _replaced_by_edit(session, plan.form_id, parsed)
    if replaced.submitter_id != sender.user_id and not session.scalar(
            select(_REVIEWER_COVERS), {"submitter_id": sender.user_id, "area_id": replaced.area_id}):
        raise DomainError("forbidden", "submission.edit_forbidden",
                          "只有原发送人，或负责该户所在区域的督导员、管理员，才能修改这份提交。",
                          "Only the sender of this submission, or a supervisor or admin over its household's area, "
                          "may edit it.")
    try:
        with session.begin_nested():
            if _retire(session, replaced):
                return _insert_edit(session, plan, replaced, stored, sender, now)
    except IntegrityError:
        pass  # the unique instanceID or the one current version per chain: another request got there first
    # The version was replaced after it was read: by this same edit sent twice at once, which then continues, or by
    # another edit, and this one is outdated.
    existing = _find(session, plan.form_id, parsed.instance_id)
    if existing is None:
        raise _outdated()
    return _continue(session, existing, plan, stored, sender, now)


def _retire(session: Session, replaced: Submission) -> bool:
    """Mark the edited version replaced, unless another request did first. On PostgreSQL the row lock makes a
    concurrent edit wait here, and it then finds the version no longer current."""
    result = session.execute(update(Submission).where(Submission.id == replaced.id, Submission.current.is_(True))
                             .values(current=False))
    return result.rowcount == 1


def _insert_edit(session: Session, plan: Plan, replaced: Submission, stored: dict[str, StoredFile], sender: Sender,
                 now: dt.datetime) -> Accepted:
    parsed = plan.parsed
    params = _sender_params(parsed, sender)
    submission = Submission(
        form_id=plan.form_id, form_version_id=plan.version_id, instance_id=parsed.instance_id,
        deprecated_id=parsed.deprecated_id, root_instance_id=replaced.root_instance_id, current=True, xml=plan.xml,
        xml_sha256=plan.xml_sha256, instance_name=parsed.instance_name, household_number=parsed.household_number,
        area_id=session.scalar(select(_AREA), params), out_of_area=session.scalar(select(_OUT_OF_AREA), params),
        submitter_id=sender.user_id, device_id=sender.device_id, client_device_id=sender.client_device_id,
        received_at=now,
    )
    previous = {a.filename: a for a in replaced.attachments}
    for name in plan.referenced:
        attachment = SubmissionAttachment(filename=name)
        if name not in stored and name in previous and previous[name].sha256:
            attachment.copy_content_from(previous[name])
        submission.attachments.append(attachment)
    added = _attach(submission, stored, now)
    session.add(submission)
    session.flush()
    _queue_reconcile(session, submission)
    _queue_images(session, submission, added)
    return Accepted(submission.id, True, added, _missing(submission))


def _replaced_by_edit(session: Session, form_id: int, parsed: ParsedInstance) -> Submission:
    replaced = _find(session, form_id, parsed.deprecated_id)
    if replaced is None:
        raise DomainError("not_found", "submission.edit_unknown",
                          f"要修改的提交“{parsed.deprecated_id}”不存在。",
                          f"The submission being edited ('{parsed.deprecated_id}') does not exist.")
    if not replaced.current:
        raise _outdated()
    return replaced


def _outdated() -> DomainError:
    return DomainError("conflict", "submission.edit_outdated", "要修改的提交已被另一次修改替代，请基于最新版本修改。",
                       "The submission being edited has already been replaced by another edit; "
                       "edit the latest version.")


def _attach(submission: Submission, stored: dict[str, StoredFile], now: dt.datetime) -> list[str]:
    """Point the attachments still expected at the files that arrived."""
    added = []
    for attachment in submission.attachments:
        received = stored.get(attachment.filename)
        if attachment.sha256 is not None or received is None:
            continue
        attachment.sha256 = received.sha256
        attachment.size = received.size
        attachment.content_type = received.content_type
        attachment.received_at = now
        added.append(attachment.filename)
    return added


def _queue_images(session: Session, submission: Submission, added: list[str]) -> None:
    for attachment in submission.attachments:
        if attachment.filename in added and looks_like_image(attachment.filename, attachment.content_type):
            session.add(Job(kind="image", submission_id=submission.id, payload={"filename": attachment.filename}))


def _queue_reconcile(session: Session, submission: Submission) -> None:
    pending = session.scalar(select(Job.id).where(Job.kind == "reconcile", Job.submission_id == submission.id,
                                                  Job.state == "queued"))
    if pending is None:
        session.add(Job(kind="reconcile", submission_id=submission.id, payload={}))
