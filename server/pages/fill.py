"""The web form /fill/<form_id> (issue 20): a published form filled in a phone's browser, for the cadres whose
phone cannot run ODK Collect.

The page is a shell: its script (server/static/webforms/fill.js, built from webforms/) reads the form, its
attachments and the caller's household list from the OpenRosa endpoints Collect uses, and posts the answers to
/submission, the one pipeline every submission goes through; the browser session stands for Collect's
credentials (server/auth.py `require_device_or_basic`). ?household=<number> opens the form with that household
chosen; a household outside the caller's areas is a 404, as everywhere.

Edit mode, /fill/<form_id>/edit/<instance_id>: the same page opens a current submission's answers and photos and
sends them as an edit (a new instanceID, meta/deprecatedID the edited one's), which only those may open whom
/submission lets edit it (sync/submissions.py `_insert_edit`): its sender, or a supervisor or admin over its
household's area. Its XML is served to them with the real ID numbers (an edit sends back every answer: masked
numbers would overwrite the household's), never to anyone else.
"""
from __future__ import annotations

from pathlib import Path

from flask import Blueprint, Response, current_app, g, jsonify, render_template, request, url_for
from sqlalchemy import select

from forms.models import Form, FormVersion
from forms.web_transform import WebTransformError, transform
from media.images import looks_like_image, served_type
from server.errors import Problem
from server.media_http import send_blob
from server.models import VISIT_ROLES
from server.pages.common import current_principal, page
from server.pages.feedback import own_or_scoped_submission
from server.pages.home import WEB_FORM_RULE
from server.runtime import db, runtime
from server.scope import scoped_household
from server.security_headers import page_policy
from sync.forms import form_title
from sync.models import Submission

bp = Blueprint("fill", __name__)
#: who may edit a submission they did not send, within their areas (sync/submissions.py `_REVIEWER_COVERS`)
EDITORS = ("admin", "supervisor")


def _open_form(form_id: str) -> tuple[Form, FormVersion]:
    row = db().execute(select(Form, FormVersion).join(FormVersion, Form.current_version_id == FormVersion.id)
                       .where(Form.xml_form_id == form_id, Form.state == "open")).first()
    if row is None:  # unknown, or not open for submissions: Collect's form list does not show it either
        raise Problem(404, "form.not_found", f"没有可填写的表单“{form_id}”。", f"There is no open form '{form_id}'.")
    return tuple(row)


def _render(form_id: str, title: str, version: FormVersion, **edit: str):
    has_media = any(a.dataset or a.sha256 for a in version.attachments)
    db().rollback()
    tile_url = current_app.config.get("ZOUFANG_TILE_URL") or ""
    page_html = render_template(
        "fill.html", title=title, tile_url=tile_url,
        form_url=url_for("fill.transform_json", form_id=form_id),
        manifest_url=url_for("openrosa.form_manifest", xml_form_id=form_id) if has_media else "",
        submission_url=url_for("openrosa.submission_post"),
        fresh_url=url_for("fill.fill_page", form_id=form_id), **edit)
    # a chosen photo is shown and resized from a blob: URL (enketo-core's file widget)
    return page_html, {"Content-Security-Policy": page_policy(tile_url, "blob:")}


@bp.route(WEB_FORM_RULE)
@page(*VISIT_ROLES)
def fill_page(form_id: str):
    principal = current_principal()
    form, version = _open_form(form_id)
    number = (request.args.get("household") or "").strip()[:50]
    if number:
        scoped_household(db(), principal.scope, number)
    return _render(form_id, form_title(form.xml_form_id, version.title, "zh"), version)


@bp.get(f"{WEB_FORM_RULE}/transform.json")
@page(*VISIT_ROLES)
def transform_json(form_id: str):
    """The open form's XForm with enketo-transformer's two stylesheets applied to it (forms/web_transform.py), for
    the page's script to run: browsers no longer apply XSLT themselves. One answer holds both, so the results are
    always of the XForm beside them; revalidated by its ETag, kept by the page for offline use."""
    _, version = _open_form(form_id)
    xform = version.xform
    db().rollback()
    try:
        done = transform(xform)
    except WebTransformError as error:
        raise Problem(422, "form.web_transform", "这个表单无法在网页中打开，请用 ODK Collect 填写，或联系管理员。",
                      f"This form cannot be opened in the browser ({error}); fill it in ODK Collect, or ask an "
                      "admin.") from None
    response = jsonify({"xform": xform.decode(), "form": done.form, "model": done.model})
    response.set_etag(done.etag)
    response.headers["Cache-Control"] = "private, no-cache"
    return response.make_conditional(request)


# ---- edit mode -------------------------------------------------------------------------------------------------

def _editable(form_id: str, instance_id: str) -> Submission:
    """The submission the caller may edit: found as the submission pages find it (their areas, and what they
    sent themselves), else 404; another's, unless the caller reviews the area, 403; a version already replaced by
    an edit, 409 (the edit must start from the current one)."""
    principal = current_principal()
    found = own_or_scoped_submission(form_id, instance_id)
    if found.submitter_id != principal.user.id and principal.user.role not in EDITORS:
        raise Problem(403, "submission.edit_forbidden",
                      "只有原发送人，或负责该户所在区域的督导员、管理员，才能修改这份提交。",
                      "Only the sender of this submission, or a supervisor or admin over its household's area, "
                      "may edit it.")
    if not found.current:
        raise Problem(409, "submission.edit_replaced", "这份提交已被修改过，请修改最新的版本。",
                      "This submission has been replaced by an edit; edit the newest version.")
    return found


def edit_link(form_id: str, submission: Submission) -> str | None:
    """The web form's edit page for a submission the caller has found in their scope and may edit, while it is
    current and its form open; else None. For the submission pages and the feedback notices."""
    user = current_principal().user
    if not submission.current or (submission.submitter_id != user.id and user.role not in EDITORS):
        return None
    open_forms = g.get("open_forms")
    if open_forms is None:
        open_forms = g.open_forms = set(db().scalars(select(Form.xml_form_id).where(Form.state == "open")))
    if form_id not in open_forms:
        return None
    return url_for("fill.edit_page", form_id=form_id, instance_id=submission.instance_id)


@bp.app_context_processor
def _edit_link() -> dict:
    return {"web_edit_link": edit_link}


@bp.route(f"{WEB_FORM_RULE}/edit/<instance_id>")
@page(*VISIT_ROLES)
def edit_page(form_id: str, instance_id: str):
    form, version = _open_form(form_id)
    found = _editable(form_id, instance_id)
    files = url_for("fill.edit_file", form_id=form_id, instance_id=instance_id, filename="-")[:-1]
    return _render(form_id, form_title(form.xml_form_id, version.title, "zh"), version,
                   instance_url=url_for("fill.edit_instance", form_id=form_id, instance_id=instance_id),
                   files_url=files, edited_id=found.instance_id)


def _private(response: Response) -> Response:
    """The real ID numbers and the photos stay out of any shared or kept cache (the page's service worker does
    not keep them either)."""
    response.headers["Cache-Control"] = "no-store, private"
    return response


@bp.get(f"{WEB_FORM_RULE}/edit/<instance_id>/instance.xml")
@page(*VISIT_ROLES)
def edit_instance(form_id: str, instance_id: str):
    """The submission's XML as received, ID numbers unmasked: only for those who may edit it."""
    xml = _editable(form_id, instance_id).xml
    db().rollback()
    return _private(Response(xml, content_type="text/xml; charset=utf-8"))


@bp.get(f"{WEB_FORM_RULE}/edit/<instance_id>/files/<filename>")
@page(*VISIT_ROLES)
def edit_file(form_id: str, instance_id: str, filename: str):
    """A received file of the submission being edited, shown in its question; the edit names it again without
    sending it, and the server keeps the edited version's file (sync/submissions.py `_fill`)."""
    found = _editable(form_id, instance_id)
    attachment = next((a for a in found.attachments if a.filename == filename and a.sha256), None)
    if attachment is None:
        raise Problem(404, "attachment.not_found", f"提交中没有已收到的文件“{filename}”。",
                      f"The submission has no received file '{filename}'.")
    image_type = served_type(attachment.image_check, attachment.image_info)
    settled = attachment.image_check is not None or not looks_like_image(filename, attachment.content_type)
    sha256 = attachment.sha256
    db().rollback()
    return _private(send_blob(runtime().store, sha256, image_type, filename, settled))


@bp.route("/fill/sw.js")
def service_worker():
    """The web form's service worker (webforms/src/sw.js), from here and not /static/ so that its scope can be
    /fill/; never cached by the browser, so that a new release takes over. Its policy lets it fetch from this
    server only."""
    script = Path(current_app.static_folder, "webforms", "sw.js").read_bytes()
    response = Response(script, mimetype="text/javascript")
    response.cache_control.no_cache = True
    response.headers["Content-Security-Policy"] = "default-src 'self'"
    return response
