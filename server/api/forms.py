"""Forms: list, publish an XLSForm (admins), open/close."""
from __future__ import annotations

from flask import jsonify, request
from sqlalchemy import select

from forms.models import Form
from forms.service import publish_form
from server.api import bp
from server.api.common import load
from server.api.openapi import documented
from server.api.schemas import FormSchema, FormStateSchema, FormVersionSchema
from server.audit import record
from server.auth import require_api_user
from server.errors import Problem
from server.runtime import db, runtime


def _form(xml_form_id: str) -> Form:
    form = db().scalar(select(Form).where(Form.xml_form_id == xml_form_id))
    if form is None:
        raise Problem(404, "form.not_found", f"没有表单“{xml_form_id}”。", f"There is no form '{xml_form_id}'.")
    return form


@bp.get("/forms")
@documented(response=FormSchema(many=True))
def list_forms():
    """List forms with their current version"""
    require_api_user()
    forms = db().scalars(select(Form).order_by(Form.xml_form_id)).all()
    return jsonify(FormSchema(many=True).dump(forms))


@bp.post("/forms")
@documented(files=("xlsform",), response=FormSchema, status=201)
def upload_form():
    """Publish an XLSForm (admins)

    multipart: `xlsform` (the .xlsx) plus one part per media file the form refers to; the answer adds the
    `published_version`."""
    principal = require_api_user("admin")
    if request.content_length is not None and request.content_length > runtime().settings.max_form_bytes:
        raise Problem(413, "form.too_large", "上传的文件太大。", "The upload is too large.")
    upload = request.files.get("xlsform")
    if upload is None or not upload.filename:
        raise Problem(400, "form.file_missing", "请上传 XLSForm 文件（字段名 xlsform）。",
                      "Upload the XLSForm file in the part named 'xlsform'.")
    media = {f.filename: f.read() for name, f in request.files.items(multi=True) if name != "xlsform" and f.filename}
    version = publish_form(db(), runtime().store, upload.read(), upload.filename, media, principal.user.id)
    record(db(), "form.publish", f"form:{version.form.xml_form_id}",
           {"version": version.version, "file": upload.filename, "media": sorted(media)})
    db().commit()
    body = FormSchema().dump(version.form)
    body["published_version"] = FormVersionSchema().dump(version)
    return jsonify(body), 201


@bp.get("/forms/<xml_form_id>")
@documented(response=FormSchema)
def get_form(xml_form_id: str):
    """One form"""
    require_api_user()
    return jsonify(FormSchema().dump(_form(xml_form_id)))


@bp.patch("/forms/<xml_form_id>")
@documented(body=FormStateSchema, response=FormSchema)
def set_form_state(xml_form_id: str):
    """Set the form's state: open, closing, closed (admins)"""
    require_api_user("admin")
    change = load(FormStateSchema(), request.get_json(silent=True) or {})
    form = _form(xml_form_id)
    record(db(), "form.state", f"form:{xml_form_id}", {"from": form.state, "to": change["state"]})
    form.state = change["state"]
    db().commit()
    return jsonify(FormSchema().dump(form))
