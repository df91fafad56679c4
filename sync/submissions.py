"""Accepting a submission: the decisions ODK Collect and Enketo rely on, in the order they are taken.

Three steps, so that no database write lock is held while files reach the disk:

1. `plan_submission` reads only. The XML must parse and name a form, a version and an instanceID (invalid);
   the form must exist (not found), accept submissions (a conflict when closed) and have that version (not
   found). A known instanceID with different XML is a conflict; with byte-identical XML it is the continuation
   of a split upload, which still wants the files that have not arrived.
2. `store_files` makes the wanted files durable in the media store. The store is content-addressed, so a file
   stored for a request that then fails is harmless and is not stored twice when the request is repeated.
3. `record_submission` is one short write transaction, the same for every case. A first sighting of an
   instanceID is inserted with every file its XML names — received, copied from the edited version, or recorded
   as expected-missing — so an acknowledged submission is never lost. An edit (meta/deprecatedID) must name the
   current version of a known submission (not found, conflict) and replaces it. A known instanceID (a split
   upload's continuation, a resend, or a retry that raced this request) gets the files it lacked. Then
   `queue_jobs` queues the work the files that arrived call for.

Each row records the visitor's duty role (走访身份, sync/visitor_roles.py) as the sending account has it now, in the
insert itself; an edit keeps the edited version's, since who visited, and as what, does not change when the
record is corrected. The reconciler copies it into the visit (sync/duties.py counts the duties from it).

Who may write what: a continuation only from the account that sent the submission, an edit also from a supervisor
or admin whose areas cover the edited submission's household (forbidden otherwise, nothing changed). A submission (or an
edit) about a household outside the sender's areas is stored all the same, filed under the household's area, and
marked out of area (超出辖区): the reconciler leaves it out of the record until a supervisor of that area accepts
it (sync.review). Admins are never out of area. Of concurrent edits of one version only one becomes current: the
edited row is retired with a conditional update (on PostgreSQL a concurrent edit waits on its row lock, then finds
it no longer current), and the database keeps one current version per chain (uq_submissions_current_root). The
refusals are `DomainError`s of those kinds; the web shell gives each kind its HTTP status.

Every statement is a `Prepared` one on a `DirectConnection` (server/db/prepared.py): the handler runs step 1 and
step 3 in two short transactions of a pooled connection, `accept_submission` runs all three inside an ORM
session's transaction (the demo, tests).
"""
from __future__ import annotations

import dataclasses
import datetime as dt
import hashlib

from sqlalchemy import (Boolean, Integer, String, and_, bindparam, case, column, exists, func, insert, or_, select,
                        table, update)
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import Session

from forms.models import Form, FormVersion
from media.images import looks_like_image
from media.store import SpooledUpload, Store
from server.db import utcnow
from server.db.prepared import DirectConnection, Prepared
from server.errors import DomainError
from sync.instance import ParsedInstance, parse_instance, referenced_files
from sync.models import Area, Household, Job, Submission, SubmissionAttachment

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
#: a stored submission of the form by instanceID: what a continuation and an edit decide on
_STORED = Prepared(select(SUBMISSIONS.c.id, SUBMISSIONS.c.xml_sha256, SUBMISSIONS.c.submitter_id,
                          SUBMISSIONS.c.current, SUBMISSIONS.c.area_id, SUBMISSIONS.c.root_instance_id,
                          SUBMISSIONS.c.visitor_duty)
                   .where(SUBMISSIONS.c.form_id == bindparam("form_id"),
                          SUBMISSIONS.c.instance_id == bindparam("instance_id")))
#: mark an edited version replaced, unless another request did first; the id when this one did
_RETIRE = Prepared(update(SUBMISSIONS).where(SUBMISSIONS.c.id == bindparam("submission_id"),
                                             SUBMISSIONS.c.current.is_(True))
                   .values(current=False).returning(SUBMISSIONS.c.id))
#: what an attachment row holds once its file has arrived (an edit copies all of it from the version it replaces)
_CONTENT = ("sha256", "size", "content_type", "received_at", "image_check", "image_info", "thumb_sha256",
            "preview_sha256")
_RECEIVED_FILES = Prepared(select(ATTACHMENTS.c.filename, *(ATTACHMENTS.c[name] for name in _CONTENT)).where(
    ATTACHMENTS.c.submission_id == bindparam("submission_id"), ATTACHMENTS.c.sha256.is_not(None)))
_INSERT_ATTACHMENTS = Prepared(insert(ATTACHMENTS).values(
    {name: bindparam(name) for name in ("submission_id", "filename", *_CONTENT)}))
#: a file that arrives for an attachment still expected; the file name when it was (another request may have won)
_ATTACH = Prepared(update(ATTACHMENTS).where(ATTACHMENTS.c.submission_id == bindparam("submission_id"),
                                             ATTACHMENTS.c.filename == bindparam("filename"),
                                             ATTACHMENTS.c.sha256.is_(None))
                   .values({name: bindparam(name) for name in ("sha256", "size", "content_type", "received_at")})
                   .returning(ATTACHMENTS.c.filename))
_INSERT_JOBS = Prepared(insert(JOBS).values(
    {name: bindparam(name) for name in ("kind", "submission_id", "payload")}))
_RECONCILE_QUEUED = Prepared(select(JOBS.c.id).where(JOBS.c.kind == "reconcile", JOBS.c.state == "queued",
                                                     JOBS.c.submission_id == bindparam("submission_id")))
#: server.models.User's table, for the sender's role and visiting duty role
_USERS = table("users", column("id"), column("role"), column("duty"))
_SENDER = bindparam("submitter_id", type_=Integer())
#: the visitor's duty role a row is stored with: the edited version's for an edit (the visit and its visitor stay
#: the same when the record is corrected), else the sender's as it is now (a scalar subquery inside the insert)
_VISITOR_DUTY = case((bindparam("edit", type_=Boolean()), bindparam("edited_duty", type_=String())),
                     else_=select(_USERS.c.duty).where(_USERS.c.id == _SENDER).scalar_subquery())
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
_REVIEWER_COVERS = Prepared(select(exists().where(
    _USERS.c.id == _SENDER, or_(_USERS.c.role == "supervisor", _USERS.c.role == "admin"),
    _sender_covers(select(Area.path).where(Area.id == bindparam("area_id")).scalar_subquery())).label("covers")))
#: the submission's area for scoping: its household's, else the sender's area when they have exactly one
_AREA = func.coalesce(
    select(Household.area_id).where(Household.number == bindparam("household_number")).scalar_subquery(),
    select(case((func.count() == 1, func.min(_USER_AREAS.c.area_id))))
    .where(_USER_AREAS.c.user_id == _SENDER).scalar_subquery())


def _insert_statement(dialect) -> Prepared:
    columns = ("form_id", "form_version_id", "instance_id", "deprecated_id", "root_instance_id", "xml",
               "xml_sha256", "instance_name", "household_number", "device_id", "client_device_id", "received_at")
    return Prepared(dialect.insert(SUBMISSIONS)
                    .values({**{name: bindparam(name) for name in columns}, "current": True,
                             "submitter_id": _SENDER, "area_id": _AREA, "out_of_area": _OUT_OF_AREA,
                             "visitor_duty": _VISITOR_DUTY})
                    .on_conflict_do_nothing(index_elements=[SUBMISSIONS.c.form_id, SUBMISSIONS.c.instance_id])
                    .returning(SUBMISSIONS.c.id))


#: INSERT … ON CONFLICT DO NOTHING is written in each dialect's own construct
_INSERT = {"sqlite": _insert_statement(sqlite), "postgresql": _insert_statement(postgresql)}


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
    connection = DirectConnection.of_session(session)
    plan = plan_submission(connection, xml)
    return record_submission(connection, plan, store_files(store, plan, files), sender)


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
        wanted = frozenset(_still_expected(connection, found.existing_id))
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


def record_submission(connection: DirectConnection, plan: Plan, stored: dict[str, StoredFile],
                      sender: Sender) -> Accepted:
    """New, edit or continuation, in the caller's writing transaction. The plan was read before it began, so
    what it found is taken as a hint and decided again here: a first sighting may have been stored meanwhile by
    a retry of the same upload, which this request then continues."""
    now = utcnow()
    if plan.existing_id is None:
        if plan.parsed.deprecated_id is None:
            created = _insert(connection, plan, sender, now, plan.parsed.instance_id, None)
            previous = {}
        else:
            created, previous = _insert_edit(connection, plan, sender, now)
        if created is not None:
            return _fill(connection, created, plan, stored, previous, now)
    return _continue(connection, plan, stored, sender, now)


def queue_jobs(connection: DirectConnection, submission_id: int, arrived: dict[str, StoredFile],
               new: bool) -> None:
    """The work files that arrived call for: an image check (and thumbnails) for each photo, in the worker, never
    in the upload request; and one reconcile, unless one is still waiting (a new row has none)."""
    jobs = [{"kind": "image", "submission_id": submission_id, "payload": {"filename": name}}
            for name, received in sorted(arrived.items()) if looks_like_image(name, received.content_type)]
    if new or connection.first(_RECONCILE_QUEUED, {"submission_id": submission_id}) is None:
        jobs.insert(0, {"kind": "reconcile", "submission_id": submission_id, "payload": {}})
    connection.execute(_INSERT_JOBS, jobs)


def _fill(connection: DirectConnection, submission_id: int, plan: Plan, stored: dict[str, StoredFile],
          previous: dict[str, dict], now: dt.datetime) -> Accepted:
    """A row just inserted gets a row per file its XML names: what arrived, else what the edited version had,
    else an expected-missing one."""
    rows, missing = [], []
    for name in plan.referenced:
        received = stored.get(name)
        if received is not None:
            content = {"sha256": received.sha256, "size": received.size, "content_type": received.content_type,
                       "received_at": now}
        else:
            content = previous.get(name, {})
            if not content:
                missing.append(name)
        rows.append({"submission_id": submission_id, "filename": name,
                     **{key: content.get(key) for key in _CONTENT}})
    connection.execute(_INSERT_ATTACHMENTS, rows)
    queue_jobs(connection, submission_id, stored, new=True)
    return Accepted(submission_id, True, sorted(stored), missing)


def _continue(connection: DirectConnection, plan: Plan, stored: dict[str, StoredFile], sender: Sender,
              now: dt.datetime) -> Accepted:
    """The same instanceID again: with the same XML, from its sender, add the files that were still expected."""
    existing = _stored(connection, plan.form_id, plan.parsed.instance_id)
    _same_xml(existing.xml_sha256, plan.xml_sha256)
    if existing.submitter_id != sender.user_id:
        raise DomainError("forbidden", "submission.not_sender",
                          "这份提交是另一个账号发送的，只有原发送人可以补传它的文件。",
                          "This submission was sent by another account; only its sender may send its files.")
    arrived = {}
    for name, received in stored.items():
        if connection.scalar(_ATTACH, {"submission_id": existing.id, "filename": name, "sha256": received.sha256,
                                       "size": received.size, "content_type": received.content_type,
                                       "received_at": now}) is not None:
            arrived[name] = received
    if arrived:
        queue_jobs(connection, existing.id, arrived, new=False)
    return Accepted(existing.id, False, sorted(arrived), sorted(_still_expected(connection, existing.id)))


def _insert_edit(connection: DirectConnection, plan: Plan, sender: Sender,
                 now: dt.datetime) -> tuple[int | None, dict[str, dict]]:
    """Replace the edited version: the new row's id and the edited version's received files by name; no id when
    this same edit was stored meanwhile (it then continues)."""
    parsed = plan.parsed
    replaced = _stored(connection, plan.form_id, parsed.deprecated_id)
    if replaced is None:
        raise DomainError("not_found", "submission.edit_unknown",
                          f"要修改的提交“{parsed.deprecated_id}”不存在。",
                          f"The submission being edited ('{parsed.deprecated_id}') does not exist.")
    if replaced.submitter_id != sender.user_id and not connection.scalar(
            _REVIEWER_COVERS, {"submitter_id": sender.user_id, "area_id": replaced.area_id}):
        raise DomainError("forbidden", "submission.edit_forbidden",
                          "只有原发送人，或负责该户所在区域的督导员、管理员，才能修改这份提交。",
                          "Only the sender of this submission, or a supervisor or admin over its household's area, "
                          "may edit it.")
    if connection.scalar(_RETIRE, {"submission_id": replaced.id}) is None:
        # replaced since it was read: by this same edit sent twice at once, which then continues, or by another
        if _stored(connection, plan.form_id, parsed.instance_id) is None:
            raise _outdated()
        return None, {}
    previous = {row.filename: row._asdict() for row in connection.rows(_RECEIVED_FILES,
                                                                       {"submission_id": replaced.id})}
    return _insert(connection, plan, sender, now, replaced.root_instance_id, replaced), previous


def _insert(connection: DirectConnection, plan: Plan, sender: Sender, now: dt.datetime,
            root_instance_id: str, edited) -> int | None:
    """The new row's id, or None when one with this instanceID exists already. For an edit that has just retired
    its version, that stored row has other XML (with this XML it would be this edit, which retires the version
    first): the continuation that follows refuses it, and the retirement is rolled back with the transaction.
    `edited`: the stored version an edit replaces (its visitor's role is kept), None for a new submission."""
    parsed = plan.parsed
    return connection.scalar(_INSERT[connection.dialect.name], {
        "form_id": plan.form_id, "form_version_id": plan.version_id, "instance_id": parsed.instance_id,
        "deprecated_id": parsed.deprecated_id, "root_instance_id": root_instance_id, "xml": plan.xml,
        "xml_sha256": plan.xml_sha256, "instance_name": parsed.instance_name,
        "household_number": parsed.household_number, "submitter_id": sender.user_id,
        "device_id": sender.device_id, "client_device_id": sender.client_device_id, "received_at": now,
        "edit": edited is not None, "edited_duty": edited.visitor_duty if edited is not None else None})


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


def _stored(connection: DirectConnection, form_id: int, instance_id: str):
    return connection.first(_STORED, {"form_id": form_id, "instance_id": instance_id})


def _still_expected(connection: DirectConnection, submission_id: int) -> list[str]:
    return [row.filename for row in connection.rows(_STILL_EXPECTED, {"submission_id": submission_id})]


def _same_xml(stored_sha256: str, xml_sha256: str) -> None:
    if stored_sha256 != xml_sha256:
        raise DomainError("conflict", "submission.xml_conflict",
                          "已有一份相同 ID（instanceID）的提交，但内容不同。请勿修改已发送的表单后重发。",
                          "A submission already exists with this ID, but with different XML.")


def _outdated() -> DomainError:
    return DomainError("conflict", "submission.edit_outdated", "要修改的提交已被另一次修改替代，请基于最新版本修改。",
                       "The submission being edited has already been replaced by another edit; "
                       "edit the latest version.")
