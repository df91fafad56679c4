"""The web form /fill/<form_id> (issue 20): a published form filled in a phone's browser, for the cadres whose
phone cannot run ODK Collect.

The page is a shell: its script (server/static/webforms/fill.js, built from webforms/) reads the form, its
attachments and the caller's household list from the OpenRosa endpoints Collect uses, and posts the answers to
/submission, the one pipeline every submission goes through; the browser session stands for Collect's
credentials (server/auth.py `require_device_or_basic`). ?household=<number> opens the form with that household
chosen; a household outside the caller's areas is a 404, as everywhere.
"""
from __future__ import annotations

from pathlib import Path

from flask import Blueprint, Response, current_app, render_template, request, url_for
from sqlalchemy import select

from forms.models import Form, FormVersion
from server.errors import Problem
from server.pages.common import current_principal, page
from server.pages.home import WEB_FORM_RULE
from server.runtime import db
from server.scope import scoped_household
from server.security_headers import page_policy
from sync.forms import form_title

bp = Blueprint("fill", __name__)


@bp.route(WEB_FORM_RULE)
@page()
def fill_page(form_id: str):
    principal = current_principal()
    row = db().execute(select(Form, FormVersion).join(FormVersion, Form.current_version_id == FormVersion.id)
                       .where(Form.xml_form_id == form_id, Form.state == "open")).first()
    if row is None:  # unknown, or not open for submissions: Collect's form list does not show it either
        raise Problem(404, "form.not_found", f"没有可填写的表单“{form_id}”。", f"There is no open form '{form_id}'.")
    form, version = row
    number = (request.args.get("household") or "").strip()[:50]
    if number:
        scoped_household(db(), principal.scope, number)
    has_media = any(a.dataset or a.sha256 for a in version.attachments)
    title = form_title(form.xml_form_id, version.title, "zh")
    db().rollback()
    tile_url = current_app.config.get("ZOUFANG_TILE_URL") or ""
    page_html = render_template(
        "fill.html", title=title, tile_url=tile_url,
        form_url=url_for("openrosa.form_xml", xml_form_id=form_id),
        manifest_url=url_for("openrosa.form_manifest", xml_form_id=form_id) if has_media else "",
        submission_url=url_for("openrosa.submission_post"),
        fresh_url=url_for("fill.fill_page", form_id=form_id))
    # a chosen photo is shown and resized from a blob: URL (enketo-core's file widget)
    return page_html, {"Content-Security-Policy": page_policy(tile_url, "blob:")}


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
