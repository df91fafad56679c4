"""OpenRosa endpoints as ODK Collect and Enketo speak them: form list, form, manifest, media, submission.

Registered twice: at the server root (HTTP Basic) and under /key/<token>/ (a device set up by QR code).
Every response carries X-OpenRosa-Version and Date; errors are OpenRosa XML with the HTTP status.
"""
from __future__ import annotations

import errno
import sqlite3
from contextlib import contextmanager

from flask import Blueprint, Response, current_app, g, request, url_for
from sqlalchemy import select
from sqlalchemy.exc import DBAPIError
from werkzeug.exceptions import ClientDisconnected

from forms.models import Form, FormAttachment, FormVersion
from server import multipart
from server.auth import record_device_use, require_device_or_basic
from server.errors import Problem, openrosa_message
from server.models import VISIT_ROLES
from server.openrosa_xml import FormListEntry, ManifestEntry, form_list, manifest
from server.db.prepared import direct_connection
from server.runtime import db, new_request_upload, runtime
from sync.entity_list import households_csv
from sync.forms import form_title
from sync.submissions import IncomingFile, Sender, plan_submission, record_submission, store_files

bp = Blueprint("openrosa", __name__)
XML = "text/xml; charset=utf-8"
BLUEPRINTS = ("openrosa", "openrosa_key")


@bp.url_value_preprocessor
def _pop_token(_endpoint, values):
    if values and "token" in values:
        g.device_token = values.pop("token")


@bp.url_defaults
def _keep_token(_endpoint, values):
    if "device_token" in g:
        values.setdefault("token", g.device_token)


@bp.after_request
def _openrosa_headers(response: Response) -> Response:
    return add_openrosa_headers(response)


def add_openrosa_headers(response: Response) -> Response:
    # Date is not set here: gunicorn and Werkzeug's server both always add it, and a second one would repeat it.
    response.headers["X-OpenRosa-Version"] = "1.0"
    response.headers["X-OpenRosa-Accept-Content-Length"] = str(runtime().settings.max_submission_bytes)
    return response


def _url(endpoint: str, **values) -> str:
    return url_for(f"{request.blueprint}.{endpoint}", _external=True, **values)


def _xml(body: str, status: int = 200) -> Response:
    return Response(body, status=status, content_type=XML)


def _listed_forms(xml_form_id: str | None = None):
    statement = (select(Form, FormVersion).join(FormVersion, Form.current_version_id == FormVersion.id)
                 .where(Form.state == "open").order_by(Form.xml_form_id))
    if xml_form_id is not None:
        statement = statement.where(Form.xml_form_id == xml_form_id)
    return db().execute(statement).all()


def _current_version(xml_form_id: str) -> FormVersion:
    version = db().scalar(select(FormVersion).join(Form, Form.current_version_id == FormVersion.id)
                          .where(Form.xml_form_id == xml_form_id, Form.state != "closed"))
    if version is None:
        raise Problem(404, "form.not_found", f"服务器上没有表单“{xml_form_id}”。",
                      f"There is no form '{xml_form_id}' on this server.")
    return version


def _attachment_content(attachment: FormAttachment) -> tuple[bytes, str]:
    """The file and its md5: a generated list is the caller's own; an uploaded file is the same for all."""
    if attachment.dataset == "households":
        return households_csv(db(), g.principal.scope.area_ids)
    return runtime().store.read_bytes(attachment.sha256), attachment.md5


def _attachment_md5(attachment: FormAttachment) -> str:
    return _attachment_content(attachment)[1] if attachment.dataset else attachment.md5


@bp.route("/formList", methods=["GET", "HEAD"])
def form_list_view():
    require_device_or_basic()
    entries = []
    for form, version in _listed_forms(request.args.get("formID")):
        has_media = any(a.dataset or a.sha256 for a in version.attachments)
        entries.append(FormListEntry(
            # Collect shows one title: the Chinese one (sync/forms), also for a version published before it was
            form_id=form.xml_form_id, name=form_title(form.xml_form_id, version.title, "zh"), version=version.version,
            hash=f"md5:{version.xform_md5}", download_url=_url("form_xml", xml_form_id=form.xml_form_id),
            manifest_url=_url("form_manifest", xml_form_id=form.xml_form_id) if has_media else None))
    return _xml(form_list(entries))


@bp.route("/forms/<xml_form_id>.xml", methods=["GET", "HEAD"])
def form_xml(xml_form_id: str):
    require_device_or_basic()
    version = _current_version(xml_form_id)
    response = Response(version.xform, content_type=XML)
    response.set_etag(version.xform_md5)
    return response.make_conditional(request)


@bp.route("/forms/<xml_form_id>/manifest", methods=["GET", "HEAD"])
def form_manifest(xml_form_id: str):
    require_device_or_basic()
    version = _current_version(xml_form_id)
    entries = [ManifestEntry(filename=a.filename, hash=f"md5:{_attachment_md5(a)}",
                             download_url=_url("form_attachment", xml_form_id=xml_form_id, filename=a.filename),
                             entity_list=a.dataset is not None)
               for a in version.attachments if a.dataset or a.sha256]
    return _xml(manifest(entries))


@bp.route("/forms/<xml_form_id>/attachments/<filename>", methods=["GET", "HEAD"])
def form_attachment(xml_form_id: str, filename: str):
    require_device_or_basic()
    version = _current_version(xml_form_id)
    attachment = next((a for a in version.attachments if a.filename == filename and (a.dataset or a.sha256)), None)
    if attachment is None:
        raise Problem(404, "form.attachment_not_found", f"表单“{xml_form_id}”没有附件“{filename}”。",
                      f"The form '{xml_form_id}' has no attachment '{filename}'.")
    content, md5 = _attachment_content(attachment)
    response = Response(content, content_type=attachment.content_type or "application/octet-stream")
    response.headers["Content-Disposition"] = f"attachment; filename*=UTF-8''{filename}"
    response.set_etag(md5)
    return response.make_conditional(request)


@bp.route("/submission", methods=["HEAD", "GET"])
def submission_probe():
    require_device_or_basic()
    return Response(status=204)


@bp.route("/submission", methods=["POST"])
def submission_post():
    limit = runtime().settings.max_submission_bytes
    if request.content_length is not None and request.content_length > limit:
        # answered from the headers: the body is never read
        raise Problem(413, "submission.too_large",
                      f"提交太大（{request.content_length} 字节），上限为 {limit} 字节。",
                      f"The submission is too large ({request.content_length} bytes); the limit is {limit} bytes.")
    principal = require_device_or_basic()
    if (principal.role or principal.user.role) not in VISIT_ROLES:
        raise Problem(403, "submission.role", "财务人员的账号不能提交表单：走访和鉴定请用干部或审核人员的账号提交。",
                      "A finance account may not send forms: visits and assessments are sent by cadres and "
                      "supervisors.")
    if request.mimetype != "multipart/form-data":
        raise Problem(400, "submission.not_multipart", "提交必须是 multipart/form-data 格式。",
                      "A submission must be sent as multipart/form-data.")
    with _storage_errors():
        xml, files = _read_multipart()
    sender = Sender(user_id=principal.user_id, device_id=principal.device_id,
                    client_device_id=_clean(request.args.get("deviceID"), 255))
    # A database connection only once the body is in, and two short transactions: on SQLite the reading one
    # takes no lock, and no lock is held while files are written to disk.
    with _storage_errors():
        with direct_connection(runtime().engine) as connection:
            with connection.transaction(write=False):
                plan = plan_submission(connection, xml)
            stored = store_files(runtime().store, plan, files)
            with connection.transaction(write=True):
                accepted = record_submission(connection, plan, stored, sender)
                record_device_use(connection, principal)
    runtime().wake_worker()
    missing = accepted.missing
    if missing:
        zh = f"已收到提交，还缺 {len(missing)} 个文件：{', '.join(missing)}"
        en = f"Submission received; {len(missing)} file(s) still expected: {', '.join(missing)}"
    else:
        zh, en = "提交成功。", "Submission received."
    return _xml(openrosa_message(f"{zh} / {en}"), status=201)


def _read_multipart() -> tuple[bytes, dict[str, IncomingFile]]:
    settings = runtime().settings
    try:
        boundary = multipart.boundary_of(request.mimetype_params)
        body = multipart.parse(request.stream, boundary, new_request_upload, limit=settings.max_submission_bytes,
                               max_field_bytes=current_app.config["MAX_FORM_MEMORY_SIZE"],
                               part_caps={"xml_submission_file": settings.max_xml_bytes})
    except multipart.PartTooLarge as exc:
        raise Problem(413, "submission.xml_too_large", f"提交的 XML 超过 {exc.cap} 字节的上限，服务器不予接收。",
                      f"The submission's XML is larger than the limit of {exc.cap} bytes; it is refused.") from None
    except multipart.TooLarge as exc:
        raise Problem(413, "submission.too_large", f"提交太大：{exc}", f"The submission is too large: {exc}") from None
    except (multipart.MultipartError, ClientDisconnected) as exc:
        raise Problem(400, "submission.multipart_invalid", f"无法读取上传的内容（可能不完整）：{exc}",
                      f"The upload could not be read (it may be truncated): {exc}") from None
    xml_part = next((part for part in body.files if part.name == "xml_submission_file"), None)
    if xml_part is not None:
        xml_part.upload.seek(0)
        xml = xml_part.upload.read()
    elif body.fields.get("xml_submission_file"):
        xml = body.fields["xml_submission_file"]
    else:
        raise Problem(400, "submission.xml_missing", "提交中没有 xml_submission_file 部分。",
                      "The submission has no xml_submission_file part.")
    files = {}
    for part in body.files:
        if part is xml_part:
            continue
        name = part.filename or part.name
        files[name] = IncomingFile(filename=name, content_type=_clean(_mimetype(part.content_type), 100),
                                   upload=part.upload)
    return xml, files


@contextmanager
def _storage_errors():
    """A full disk is the server's trouble, not the upload's: 507, and the device sends it again later. The
    database's transaction was rolled back, so nothing of the submission is recorded."""
    try:
        yield
    except Exception as exc:
        if not _disk_full(exc):
            raise
        raise Problem(507, "server.storage_full", "服务器存储空间已满，暂时无法接收提交，请稍后重新发送。",
                      "The server's storage is full; it cannot take submissions now. Send again later.") from None


def _disk_full(exc: Exception) -> bool:
    """No space for a file (ENOSPC, or over quota), or for the database: SQLite's SQLITE_FULL ("database or disk is
    full"), PostgreSQL's disk_full (SQLSTATE 53100); from the driver itself or wrapped by SQLAlchemy."""
    if isinstance(exc, OSError):
        return exc.errno in (errno.ENOSPC, errno.EDQUOT)
    driver_error = exc.orig if isinstance(exc, DBAPIError) else exc
    return (getattr(driver_error, "sqlite_errorcode", None) == sqlite3.SQLITE_FULL
            or getattr(driver_error, "sqlstate", None) == "53100")


def _mimetype(content_type: str | None) -> str:
    return (content_type or "").partition(";")[0].strip().lower()


def _clean(value: str | None, length: int) -> str | None:
    """Client-supplied text for the database: no NUL (PostgreSQL refuses it), no more than the column holds."""
    value = (value or "").replace("\x00", "")[:length]
    return value or None
