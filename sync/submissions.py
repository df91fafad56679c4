"""Accepting a submission: the decisions ODK Collect and Enketo rely on, in the order they are taken.

1. The XML must parse and name a form, a version and an instanceID (400).
2. The form must exist (404), accept submissions (409 when closed) and have that version (404).
3. A known instanceID with byte-identical XML is a continuation of a split upload: add the files that are
   still missing (201). With different XML it is a conflict (409).
4. An edit (meta/deprecatedID) must name the current version of a known submission (404, 409).
5. A new submission is stored with every file its XML names: received, or recorded as expected-missing.
Files are made durable in the media store before the database row that points at them is flushed, and a
reconcile job is queued in the same transaction, so an acknowledged submission is never lost.
"""
from __future__ import annotations

import dataclasses
import hashlib

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from forms.models import Form, FormVersion
from media.images import looks_like_image
from media.store import SpooledUpload, Store
from server.db import utcnow
from server.errors import Problem
from sync.instance import ParsedInstance, parse_instance, referenced_files
from sync.models import Household, Job, Submission, SubmissionAttachment


@dataclasses.dataclass
class IncomingFile:
    filename: str
    content_type: str | None
    upload: SpooledUpload


@dataclasses.dataclass
class Sender:
    user_id: int | None
    device_id: int | None = None
    client_device_id: str | None = None
    #: the area a submission falls back to when it names no known household (the sender's only area)
    fallback_area_id: int | None = None


@dataclasses.dataclass
class Accepted:
    submission: Submission
    created: bool
    #: file names received in this request
    added: list[str]

    @property
    def missing(self) -> list[str]:
        return [a.filename for a in self.submission.attachments if a.sha256 is None]


def accept_submission(session: Session, store: Store, xml: bytes, files: dict[str, IncomingFile],
                      sender: Sender) -> Accepted:
    parsed = parse_instance(xml)
    form, version = _form_version(session, parsed)
    xml_sha256 = hashlib.sha256(xml).hexdigest()

    existing = _find(session, form.id, parsed.instance_id)
    if existing is None:
        try:
            with session.begin_nested():
                submission = _create(session, store, form, version, parsed, xml, xml_sha256, files, sender)
            return Accepted(submission, True, [a.filename for a in submission.attachments if a.sha256])
        except IntegrityError:
            # a retry of the same upload raced us and won: treat this request as its continuation
            existing = _find(session, form.id, parsed.instance_id)
            if existing is None:
                raise
    if existing.xml_sha256 != xml_sha256:
        raise Problem(409, "submission.xml_conflict",
                      "已有一份相同 ID（instanceID）的提交，但内容不同。请勿修改已发送的表单后重发。",
                      "A submission already exists with this ID, but with different XML.")
    added = _attach(store, existing, files)
    if added:
        _queue_reconcile(session, existing)
        _queue_images(session, existing, added)
    session.flush()
    return Accepted(existing, False, added)


def _form_version(session: Session, parsed: ParsedInstance) -> tuple[Form, FormVersion]:
    form = session.scalar(select(Form).where(Form.xml_form_id == parsed.xml_form_id))
    if form is None:
        raise Problem(404, "form.not_found", f"服务器上没有表单“{parsed.xml_form_id}”。",
                      f"There is no form '{parsed.xml_form_id}' on this server.")
    if form.state == "closed":
        raise Problem(409, "form.closed", f"表单“{parsed.xml_form_id}”已关闭，不再接收提交。",
                      f"The form '{parsed.xml_form_id}' is closed and does not accept submissions.")
    version = session.scalar(select(FormVersion).where(FormVersion.form_id == form.id,
                                                       FormVersion.version == parsed.version))
    if version is None:
        raise Problem(404, "form.version_not_found",
                      f"表单“{parsed.xml_form_id}”没有版本“{parsed.version}”。请在 Collect 中更新表单。",
                      f"The form '{parsed.xml_form_id}' has no version '{parsed.version}'. "
                      "Update the form on the device.")
    return form, version


def _find(session: Session, form_id: int, instance_id: str) -> Submission | None:
    return session.scalar(select(Submission).where(Submission.form_id == form_id,
                                                   Submission.instance_id == instance_id))


def _create(session: Session, store: Store, form: Form, version: FormVersion, parsed: ParsedInstance,
            xml: bytes, xml_sha256: str, files: dict[str, IncomingFile], sender: Sender) -> Submission:
    replaced = _replaced_by_edit(session, form, parsed)
    household_area = None
    if parsed.household_number:
        household_area = session.scalar(select(Household.area_id).where(Household.number == parsed.household_number))
    submission = Submission(
        form_id=form.id, form_version_id=version.id, instance_id=parsed.instance_id,
        deprecated_id=parsed.deprecated_id, current=True, xml=xml, xml_sha256=xml_sha256,
        instance_name=parsed.instance_name, household_number=parsed.household_number,
        area_id=household_area or sender.fallback_area_id, submitter_id=sender.user_id,
        device_id=sender.device_id, client_device_id=sender.client_device_id, received_at=utcnow(),
    )
    previous = {a.filename: a for a in replaced.attachments} if replaced else {}
    for name in referenced_files(parsed.root, version.binary_paths):
        attachment = SubmissionAttachment(filename=name)
        if name not in files and name in previous and previous[name].sha256:
            attachment.copy_content_from(previous[name])
        submission.attachments.append(attachment)
    added = _attach(store, submission, files)
    if replaced is not None:
        replaced.current = False
    session.add(submission)
    session.flush()
    _queue_reconcile(session, submission)
    _queue_images(session, submission, added)
    return submission


def _replaced_by_edit(session: Session, form: Form, parsed: ParsedInstance) -> Submission | None:
    if not parsed.deprecated_id:
        return None
    replaced = _find(session, form.id, parsed.deprecated_id)
    if replaced is None:
        raise Problem(404, "submission.edit_unknown",
                      f"要修改的提交“{parsed.deprecated_id}”不存在。",
                      f"The submission being edited ('{parsed.deprecated_id}') does not exist.")
    if not replaced.current:
        raise Problem(409, "submission.edit_outdated",
                      "要修改的提交已被另一次修改替代，请基于最新版本修改。",
                      "The submission being edited has already been replaced by another edit; "
                      "edit the latest version.")
    return replaced


def _attach(store: Store, submission: Submission, files: dict[str, IncomingFile]) -> list[str]:
    """Store the files this submission still expects; files it does not name are ignored, as Central does."""
    added = []
    for attachment in submission.attachments:
        incoming = files.get(attachment.filename)
        if attachment.sha256 is not None or incoming is None:
            continue
        size = incoming.upload.size
        attachment.sha256 = store.commit(incoming.upload)
        attachment.size = size
        attachment.content_type = (incoming.content_type or "")[:100] or None
        attachment.received_at = utcnow()
        added.append(attachment.filename)
    return added


def _queue_images(session: Session, submission: Submission, added: list[str]) -> None:
    """Photos are checked and get thumbnails in the worker, never in the upload request."""
    for attachment in submission.attachments:
        if attachment.filename in added and looks_like_image(attachment.filename, attachment.content_type):
            session.add(Job(kind="image", submission_id=submission.id, payload={"filename": attachment.filename}))


def _queue_reconcile(session: Session, submission: Submission) -> None:
    pending = session.scalar(select(Job.id).where(Job.kind == "reconcile", Job.submission_id == submission.id,
                                                  Job.state == "queued"))
    if pending is None:
        session.add(Job(kind="reconcile", submission_id=submission.id, payload={}))
