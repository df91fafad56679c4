"""Admin pages (admins only): publish XLSForms and open/close forms, manage users (create, deactivate, reset the
password, set up their phones), the area tree (see it, import it) and the roster import (the page; the upload goes
to the API, api.upload_roster). The QR code for a phone is on web.devices."""
from __future__ import annotations

import io
from typing import Any

from flask import Blueprint, flash, redirect, render_template, request, send_file, url_for
from flask_babel import gettext as _
from flask_babel import lazy_gettext
from sqlalchemy import func, select

from forms.models import Form, FormVersion
from forms.service import publish_form
from media.apk import apk_problem, version_from_filename
from server.accounts import MIN_PASSWORD, password_errors, username_errors
from server.audit import record
from server.errors import DomainError, Problem
from server.i18n import current_lang
from server.login_sessions import end_user_sessions
from server.models import ROLES, CollectApp, Device, User, UserArea, latest_collect_app
from server.pages.common import current_principal, page, page_number
from server.render import problem_from
from server.passwords import hash_password
from server.runtime import db, new_request_upload, runtime
from sync.areas import import_areas
from sync.forms import form_title
from sync.models import Area, Household, Submission
from sync.reconcile import stale_records
from sync.roster_template import FILENAME as TEMPLATE_NAME
from sync.roster_template import roster_template
from sync.review import area_tree
from sync.visitor_roles import DUTIES, DUTY_LABELS, OTHER
from sync.workers import recent_workers

bp = Blueprint("admin", __name__, url_prefix="/admin")
USERS_PER_PAGE = 100
FORM_STATES = ("open", "closing", "closed")

ROLE_LABELS = {"admin": lazy_gettext("管理员"), "supervisor": lazy_gettext("督导"), "cadre": lazy_gettext("帮扶干部"),
               "finance": lazy_gettext("财务人员")}
FORM_STATE_LABELS = {"open": lazy_gettext("开放"), "closing": lazy_gettext("即将关闭"), "closed": lazy_gettext("已关闭")}
#: the visiting duty roles' labels, translated (the msgids are sync.visitor_roles.DUTY_LABELS)
DUTY_ROLE_LABELS = {code: lazy_gettext(label) for code, label in DUTY_LABELS.items()}
LEVEL_LABELS = {"county": lazy_gettext("县"), "town": lazy_gettext("乡镇"), "village": lazy_gettext("村"),
                "group": lazy_gettext("组")}


@bp.context_processor
def _labels() -> dict[str, Any]:
    return {"role_labels": ROLE_LABELS, "duty_labels": DUTY_ROLE_LABELS, "form_state_labels": FORM_STATE_LABELS, "level_labels": LEVEL_LABELS,
            "message_of": lambda item: item.get("message_en") if current_lang() == "en" else item.get("message_zh")}


# ---- forms -------------------------------------------------------------------------------------------------

def _forms_page(status: int = 200, **outcome):
    forms = db().execute(select(Form, FormVersion).outerjoin(FormVersion, Form.current_version_id == FormVersion.id)
                         .order_by(Form.xml_form_id)).all()
    counts = dict(db().execute(select(Submission.form_id, func.count(Submission.id))
                               .group_by(Submission.form_id)).all())
    stale, total = stale_records(db(), runtime().queue.rules.digest)
    return render_template("admin/forms.html", forms=forms, counts=counts, states=FORM_STATES,
                           max_mb=runtime().settings.max_form_bytes // (1024 * 1024),
                           rules={"stale": stale, "total": total}, workers=recent_workers(db()), **outcome), status


@bp.get("/")
@page("admin")
def index():
    return _forms_page()


@bp.post("/forms")
@page("admin")
def publish():
    """Upload an XLSForm (part `xlsform`) and the media files it refers to (parts `media`): publish it, or show
    pyxform's errors in place, by sheet and row."""
    principal = current_principal()
    if request.content_length is not None and request.content_length > runtime().settings.max_form_bytes:
        problem = Problem(413, "form.too_large", "上传的文件太大。", "The upload is too large.")
        return _forms_page(problem.status, problem=problem)
    upload = request.files.get("xlsform")
    if upload is None or not upload.filename:
        problem = Problem(400, "form.file_missing", "请选择 XLSForm 文件（.xlsx）。", "Choose the XLSForm file (.xlsx).")
        return _forms_page(problem.status, problem=problem)
    media = {f.filename: f.read() for f in request.files.getlist("media") if f.filename}
    try:
        version = publish_form(db(), runtime().store, upload.read(), upload.filename, media, principal.user.id)
    except DomainError as refused:
        db().rollback()
        problem = problem_from(refused)
        return _forms_page(problem.status, problem=problem, filename=upload.filename)
    record(db(), "form.publish", f"form:{version.form.xml_form_id}",
           {"version": version.version, "file": upload.filename, "media": sorted(media)})
    db().commit()
    published = {"form_id": version.form.xml_form_id, "version": version.version,
                 "title": form_title(version.form.xml_form_id, version.title, current_lang()),
                 "warnings": list(version.warnings or []),
                 "missing_media": [a.filename for a in version.attachments if not a.dataset and not a.sha256]}
    return _forms_page(published=published)


@bp.post("/forms/<xml_form_id>/state")
@page("admin")
def form_state(xml_form_id: str):
    form = db().scalar(select(Form).where(Form.xml_form_id == xml_form_id))
    if form is None:
        raise Problem(404, "form.not_found", f"没有表单“{xml_form_id}”。", f"There is no form '{xml_form_id}'.")
    state = request.form.get("state")
    if state not in FORM_STATES:
        raise Problem(400, "form.state_unknown", "表单状态无效。", "Unknown form state.")
    record(db(), "form.state", f"form:{xml_form_id}", {"from": form.state, "to": state})
    form.state = state
    db().commit()
    flash(_("表单 %(form)s 现在是“%(state)s”。", form=xml_form_id, state=FORM_STATE_LABELS[state]), "ok")
    return redirect(url_for("admin.index"))


# ---- the ODK Collect app -------------------------------------------------------------------------------------

def _app_page(status: int = 200, **outcome):
    return render_template("admin/collect_app.html", app=latest_collect_app(db()),
                           max_mb=runtime().settings.max_apk_bytes // (1024 * 1024), **outcome), status


@bp.get("/collect-app")
@page("admin")
def collect_app():
    return _app_page()


@bp.post("/collect-app")
@page("admin")
def upload_collect_app():
    """The ODK Collect APK (part `apk`) and its version: checked to be an Android package, kept in the media store,
    offered on every devices page."""
    principal = current_principal()
    if request.content_length is not None and request.content_length > runtime().settings.max_apk_bytes:
        return _app_page(413, problem=Problem(413, "app.too_large", "安装包太大。", "The package is too large."))
    upload = request.files.get("apk")
    if upload is None or not upload.filename:
        return _app_page(400, problem=Problem(400, "app.file_missing", "请选择 ODK Collect 的 APK 安装包。",
                                              "Choose the ODK Collect APK."))
    version = (request.form.get("version") or "").strip()[:40] or version_from_filename(upload.filename)
    if not version:
        return _app_page(400, problem=Problem(400, "app.version_missing", "请填写版本号（例如 v2024.3.5）。",
                                              "Give the version (e.g. v2024.3.5)."))
    try:
        wrong = apk_problem(upload.stream)
        if wrong is not None:
            return _app_page(400, problem=Problem(400, "app.not_an_apk", *wrong))
        upload.stream.seek(0)
        stored = new_request_upload()
        for chunk in iter(lambda: upload.stream.read(1 << 16), b""):
            stored.write(chunk)
    finally:
        upload.close()  # a large upload waits in a temporary file: closed now, not whenever the request is
    size = stored.tell()
    sha256 = runtime().store.commit(stored)
    filename = f"ODK-Collect-{version}.apk"
    db().add(CollectApp(version=version, filename=filename, size=size, sha256=sha256,
                        uploaded_by_id=principal.user.id))
    record(db(), "app.upload", f"app:{version}", {"file": upload.filename, "size": size, "sha256": sha256})
    db().commit()
    flash(_("ODK Collect %(version)s 已上传，各用户的“配置手机”页面可下载。", version=version), "ok")
    return redirect(url_for("admin.collect_app"))


# ---- roster ------------------------------------------------------------------------------------------------

@bp.get("/roster")
@page("admin")
def roster():
    """The roster import: the file goes to api.upload_roster by script, with its upload progress."""
    return render_template("admin/roster.html")


@bp.get("/roster/template.xlsx")
@page("admin")
def roster_template_file():
    """The roster template: headers, a sample row and a sheet explaining each column (sync/roster_template.py)."""
    return send_file(io.BytesIO(roster_template()), as_attachment=True, download_name=TEMPLATE_NAME,
                     mimetype="application/vnd.openxmlformats-officedocument.spreadsheetml.sheet")


# ---- users -------------------------------------------------------------------------------------------------

def _users_page(status: int = 200, errors: list[str] | None = None, entered: dict[str, Any] | None = None):
    number = page_number()
    total = db().scalar(select(func.count(User.id))) or 0
    users = db().scalars(select(User).order_by(User.username).limit(USERS_PER_PAGE)
                         .offset((number - 1) * USERS_PER_PAGE)).all()
    ids = [u.id for u in users]
    areas_of: dict[int, list[Area]] = {}
    if ids:
        for user_id, area in db().execute(select(UserArea.user_id, Area).join(Area, UserArea.area_id == Area.id)
                                          .where(UserArea.user_id.in_(ids)).order_by(Area.code)):
            areas_of.setdefault(user_id, []).append(area)
    devices = dict(db().execute(select(Device.user_id, func.count(Device.id))
                                .where(Device.user_id.in_(ids), Device.revoked_at.is_(None))
                                .group_by(Device.user_id)).all()) if ids else {}
    pages = {"number": number, "count": max(1, -(-total // USERS_PER_PAGE)), "total": total}
    return render_template("admin/users.html", users=users, areas_of=areas_of, devices=devices, pages=pages,
                           tree=area_tree(db()), roles=ROLES, duties=DUTIES, errors=errors or [], entered=entered or {},
                           min_password=MIN_PASSWORD), status


@bp.get("/users")
@page("admin")
def users():
    return _users_page()


def _new_user_errors(username: str, role: str, area_codes: list[str], password: str,
                     found: dict[str, Area]) -> list[str]:
    errors = username_errors(db(), username)
    if role not in ROLES:
        errors.append(_("请选择角色。"))
    unknown = [c for c in area_codes if c not in found]
    if unknown:
        errors.append(_("没有这些区域：%(codes)s", codes="、".join(unknown)))
    if role in ("supervisor", "cadre", "finance") and not area_codes:
        errors.append(_("督导、帮扶干部和财务人员至少要有一个区域，否则看不到任何数据。"))
    return errors + password_errors(password)


@bp.post("/users")
@page("admin")
def create_user():
    username = (request.form.get("username") or "").strip()
    display_name = (request.form.get("display_name") or "").strip()[:100]
    role = request.form.get("role") or ""
    duty = request.form.get("duty") or OTHER
    area_codes = [c for c in dict.fromkeys(request.form.getlist("areas")) if c]
    password = request.form.get("password") or ""
    found = {a.code: a for a in db().scalars(select(Area).where(Area.code.in_(area_codes)))} if area_codes else {}
    errors = _new_user_errors(username, role, area_codes, password, found)
    if duty not in DUTIES:
        errors.append(_("请选择走访身份。"))
    if errors:
        entered = {"username": username, "display_name": display_name, "role": role, "duty": duty,
                   "areas": area_codes}
        return _users_page(400, errors, entered)
    user = User(username=username, display_name=display_name or username, role=role, duty=duty,
                password_hash=hash_password(password))
    user.areas = [UserArea(area_id=found[c].id) for c in area_codes] if role != "admin" else []
    db().add(user)
    record(db(), "user.create", f"user:{username}",
           {"role": role, "display_name": user.display_name, "areas": area_codes if role != "admin" else [],
            "duty": duty})
    db().commit()
    flash(_("已创建用户 %(name)s。", name=username), "ok")
    return redirect(url_for("admin.users"))


def _user(user_id: int) -> User:
    user = db().get(User, user_id)
    if user is None:
        raise Problem(404, "user.not_found", "没有这个用户。", "No such user.")
    return user


@bp.post("/users/<int:user_id>/active")
@page("admin")
def set_active(user_id: int):
    """Deactivate (or reactivate) an account: it can then neither log in nor submit, on any of its devices."""
    user = _user(user_id)
    active = request.form.get("active") == "1"
    if user.id == current_principal().user.id and not active:
        flash(_("不能停用自己的账号。"), "error")
        return redirect(url_for("admin.users"))
    if user.active != active:
        record(db(), "user.activate" if active else "user.deactivate", f"user:{user.username}")
    user.active = active
    if not active:
        end_user_sessions(db(), user.id)
    db().commit()
    flash(_("已启用 %(name)s。", name=user.username) if active else _("已停用 %(name)s。", name=user.username), "ok")
    return redirect(url_for("admin.users"))


@bp.post("/users/<int:user_id>/duty")
@page("admin")
def set_duty(user_id: int):
    """Change the visiting duty role: visits already received keep the role they came with."""
    user = _user(user_id)
    duty = request.form.get("duty") or ""
    if duty not in DUTIES:
        raise Problem(400, "user.duty_unknown", "没有这个走访身份。", "No such visiting duty role.")
    if user.duty != duty:
        record(db(), "user.duty", f"user:{user.username}", {"from": user.duty, "to": duty})
        user.duty = duty
    db().commit()
    flash(_("%(name)s 的走访身份：%(duty)s。", name=user.username, duty=DUTY_ROLE_LABELS[duty]), "ok")
    return redirect(url_for("admin.users"))


@bp.post("/users/<int:user_id>/password")
@page("admin")
def reset_password(user_id: int):
    """A new password ends the user's browser sessions and remembered credentials; their device tokens stay."""
    user = _user(user_id)
    password = request.form.get("password") or ""
    for error in password_errors(password):
        flash(error, "error")
        return redirect(url_for("admin.users"))
    user.password_hash = hash_password(password)
    record(db(), "user.password_reset", f"user:{user.username}")
    end_user_sessions(db(), user.id)
    db().commit()
    flash(_("已为 %(name)s 设置新密码。", name=user.username), "ok")
    return redirect(url_for("admin.users"))


# ---- areas -------------------------------------------------------------------------------------------------

def _areas_page(status: int = 200, **outcome):
    households = dict(db().execute(select(Household.area_id, func.count(Household.id))
                                   .group_by(Household.area_id)).all())
    return render_template("admin/areas.html", tree=area_tree(db()), households=households, **outcome), status


@bp.get("/areas")
@page("admin")
def areas():
    return _areas_page()


@bp.post("/areas")
@page("admin")
def import_area_file():
    """Load or update areas from a CSV/XLSX (代码, 名称, 上级代码, 层级); any row error refuses the whole file."""
    upload = request.files.get("file")
    if upload is None or not upload.filename:
        problem = Problem(400, "areas.file_missing", "请选择区域文件（CSV 或 XLSX）。", "Choose the area file (CSV or XLSX).")
        return _areas_page(problem.status, problem=problem)
    try:
        result = import_areas(db(), upload.read(), upload.filename)
    except DomainError as refused:
        db().rollback()
        problem = problem_from(refused)
        return _areas_page(problem.status, problem=problem)
    record(db(), "areas.import", f"file:{upload.filename}", dict(result))
    db().commit()
    return _areas_page(result=result)
