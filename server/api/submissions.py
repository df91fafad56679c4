"""Submissions and their files, as the caller's areas allow; anything outside them is 404."""
from __future__ import annotations

from flask import Response, g, jsonify, request, url_for
from sqlalchemy import and_, or_, select

from forms.models import Form, FormVersion
from media.images import looks_like_image, served_type
from server.api import bp
from server.api.common import load
from server.api.openapi import documented
from server.api.schemas import SubmissionCursor, SubmissionQuerySchema, SubmissionSchema
from server.auth import require_api_user
from server.errors import Problem
from server.media_http import send_blob
from server.runtime import db, runtime
from sync.idcard import mask_in_xml
from sync.models import Submission


def _annotate(rows) -> list[Submission]:
    out = []
    for submission, xml_form_id, version in rows:
        submission.form_xml_id, submission.form_version_string = xml_form_id, version
        out.append(submission)
    return out


def _query():
    return (select(Submission, Form.xml_form_id, FormVersion.version)
            .join(Form, Submission.form_id == Form.id)
            .join(FormVersion, Submission.form_version_id == FormVersion.id))


def _one(xml_form_id: str, instance_id: str, own: bool = True) -> Submission:
    """The submission in the caller's areas, or one they sent (unless `own` is false: reviewing it, say)."""
    principal = require_api_user()
    scoped = (principal.scope.filter_own(_query(), Submission.area_id, Submission.submitter_id) if own
              else principal.scope.filter(_query(), Submission.area_id))
    statement = scoped.where(Form.xml_form_id == xml_form_id, Submission.instance_id == instance_id)
    rows = _annotate(db().execute(statement).all())
    if not rows:
        raise Problem(404, "submission.not_found", "没有这份提交。", "There is no such submission.")
    return rows[0]


@bp.get("/submissions")
@documented(query=SubmissionQuerySchema, response=SubmissionSchema(many=True))
def list_submissions():
    """Submissions in the caller's areas (and those they sent), newest first

    A full page answers with `Link: <…?after=CURSOR>; rel="next"`: following it gives the next older rows
    however many submissions arrived in between (an offset would show some twice)."""
    principal = require_api_user()
    args = load(SubmissionQuerySchema(), request.args)
    statement = principal.scope.filter_own(_query(), Submission.area_id, Submission.submitter_id)
    if "form_id" in args:
        statement = statement.where(Form.xml_form_id == args["form_id"])
    if "household" in args:
        statement = statement.where(Submission.household_number == args["household"])
    if "after" in args:
        received_at, submission_id = args["after"]
        statement = statement.where(or_(Submission.received_at < received_at,
                                        and_(Submission.received_at == received_at, Submission.id < submission_id)))
    statement = statement.order_by(Submission.received_at.desc(), Submission.id.desc())
    rows = _annotate(db().execute(statement.limit(args["limit"]).offset(args["offset"])).all())
    response = jsonify(SubmissionSchema(many=True).dump(rows))
    if len(rows) == args["limit"]:
        query = {k: v for k, v in request.args.items() if k not in ("after", "offset")}
        cursor = SubmissionCursor.encode(rows[-1].received_at, rows[-1].id)
        response.headers["Link"] = f'<{url_for("api.list_submissions", **query, after=cursor)}>; rel="next"'
    return response


#: who gets a submission's XML with full ID numbers: admins keep the roster (which they import with the full
#: numbers) and correct it; supervisors and cadres work with the masked number, as every page shows it
FULL_ID_NUMBER_ROLES = ("admin",)


@bp.get("/submissions/<xml_form_id>/<instance_id>/xml")
@documented(media_type="text/xml")
def submission_xml(xml_form_id: str, instance_id: str):
    """The submission's XML as received; ID numbers masked for all but admins"""
    submission = _one(xml_form_id, instance_id)
    xml = submission.xml if g.principal.user.role in FULL_ID_NUMBER_ROLES else mask_in_xml(submission.xml)
    return Response(xml, content_type="text/xml; charset=utf-8")


@bp.get("/submissions/<xml_form_id>/<instance_id>/attachments/<filename>")
@bp.get("/submissions/<xml_form_id>/<instance_id>/attachments/<filename>/<any(thumb, preview):size>")
@documented(media_type="application/octet-stream")
def submission_attachment(xml_form_id: str, instance_id: str, filename: str, size: str | None = None):
    """A received file of the submission, or its thumbnail or preview

    The original (with Range), or its thumbnail or phone-sized preview once the worker has made them (our own
    JPEGs). The original is shown as an image only once the worker's check found it one; until then, or if it is
    not, it is a download."""
    submission = _one(xml_form_id, instance_id)
    attachment = next((a for a in submission.attachments if a.filename == filename), None)
    if attachment is None or attachment.sha256 is None:
        raise Problem(404, "attachment.not_found", f"提交中没有已收到的文件“{filename}”。",
                      f"The submission has no received file '{filename}'.")
    if size is None:
        image_type = served_type(attachment.image_check, attachment.image_info)
        settled = attachment.image_check is not None or not looks_like_image(filename, attachment.content_type)
        return send_blob(runtime().store, attachment.sha256, image_type, filename, settled)
    derived = attachment.thumb_sha256 if size == "thumb" else attachment.preview_sha256
    if derived is None:
        raise Problem(404, "attachment.no_derivative", "缩略图尚未生成（或该文件不是有效图片）。",
                      "No thumbnail yet (or the file is not a valid image).",
                      details={"image_check": attachment.image_check})
    return send_blob(runtime().store, derived, "image/jpeg", f"{size}-{filename.rsplit('.', 1)[0]}.jpg")


@bp.get("/submissions/<xml_form_id>/<instance_id>")
@documented(response=SubmissionSchema)
def get_submission(xml_form_id: str, instance_id: str):
    """One submission"""
    return jsonify(SubmissionSchema().dump(_one(xml_form_id, instance_id)))
