"""Pages for people: log in, home (server/pages/home.py), and setting up a phone with ODK Collect by QR code."""
from __future__ import annotations

import math
import re
import secrets
from urllib.parse import urlsplit

from flask import Blueprint, g, redirect, render_template, request, session, url_for
from sqlalchemy import select

from server.audit import record
from server.auth import authenticate, password_marker, session_principal, token_sha256
from server.collect_qr import collect_settings, encode_settings, qr_png_data_uri, qr_svg
from server.db import utcnow
from server.errors import Problem
from server.first_admin import needs_first_admin
from server.login_sessions import end_session, open_session
from server.models import Device, User, latest_collect_app
from server.pages.home import cadre_home, finance_home, supervisor_home
from server.media_http import send_blob
from server.runtime import db, runtime

bp = Blueprint("web", __name__)


def login_required():
    principal = session_principal()
    if principal is None:
        return None
    g.principal = principal
    return principal


@bp.get("/favicon.ico")
def favicon():
    """Browsers ask for /favicon.ico where a page does not name its icon (a photo or the XML opened alone)."""
    return redirect(url_for("static", filename="favicon.svg"), 301)


@bp.route("/login", methods=["GET", "POST"])
def login():
    error = False
    if request.method == "POST":
        try:
            user_id = authenticate(request.form.get("username", ""), request.form.get("password", ""))
        except Problem as refused:
            if refused.status != 429:
                raise
            # the login page again, saying in words how long to wait, rather than an error page without a form
            wait = int(refused.headers.get("Retry-After", "60"))
            return render_template("login.html", wait_minutes=max(1, math.ceil(wait / 60)),
                                   no_admin=needs_first_admin(db())), 429, refused.headers
        if user_id is not None:
            user = db().get(User, user_id)
            session.clear()
            session["sid"] = open_session(db(), user)
            session["pw"] = password_marker(user)
            session.permanent = True
            db().commit()
            return redirect(local_path(request.args.get("next", "")) or url_for("web.home"))
        error = True
    return render_template("login.html", error=error, no_admin=needs_first_admin(db())), 401 if error else 200


_CONTROL = re.compile(r"[\x00-\x1f\x7f]")


def local_path(target: str) -> str | None:
    """`target` when it is a path on this server, else None.

    Browsers drop tabs, newlines and other control characters from a URL, trim its spaces and read a backslash as
    a slash, so "/<tab>/evil.example" and "/<backslash>evil.example" both lead to another host: judge the URL as
    the browser will read it, and hand back that reading.
    """
    cleaned = _CONTROL.sub("", target).strip(" ").replace("\\", "/")
    parts = urlsplit(cleaned)
    if parts.scheme or parts.netloc or not cleaned.startswith("/") or cleaned.startswith("//"):
        return None
    return cleaned


@bp.route("/logout", methods=["POST"])
def logout():
    if session.get("sid"):
        end_session(db(), session["sid"])
        db().commit()
    session.clear()
    return redirect(url_for("web.login"))


@bp.route("/")
def home():
    """A cadre's 今日工作, finance staff's 财务工作台, or a supervisor's (and an admin's) 工作台: server/pages/home.py."""
    principal = login_required()
    if principal is None:
        return redirect(url_for("web.login", next=request.path))
    if principal.user.role == "cadre":
        return cadre_home(principal)
    if principal.user.role == "finance":
        return finance_home(principal)
    return supervisor_home(principal)


def _device_owner(user_id: int) -> User:
    principal = g.principal
    if principal.user.id != user_id and principal.user.role != "admin":
        raise Problem(404, "user.not_found", "没有这个用户。", "No such user.")
    user = db().get(User, user_id)
    if user is None:
        raise Problem(404, "user.not_found", "没有这个用户。", "No such user.")
    return user


@bp.route("/users/<int:user_id>/devices", methods=["GET", "POST"])
def devices(user_id: int):
    if login_required() is None:
        return redirect(url_for("web.login", next=request.path))
    user = _device_owner(user_id)
    qr = qr_png = server_url = None
    if request.method == "POST":
        token = secrets.token_urlsafe(32)
        name = (request.form.get("name") or "").strip()[:100] or f"{user.username} {utcnow():%Y-%m-%d}"
        device = Device(user_id=user.id, token_sha256=token_sha256(token), name=name)
        db().add(device)
        db().flush()
        record(db(), "device.create", f"device:{device.id}", {"user": user.username, "name": name})
        db().commit()
        server_url = url_for("web.home", _external=True).rstrip("/") + f"/key/{token}"
        payload = encode_settings(collect_settings(server_url, runtime().settings.project_name))
        qr, qr_png = qr_svg(payload), qr_png_data_uri(payload)
    listed = db().scalars(select(Device).where(Device.user_id == user.id).order_by(Device.created_at.desc())).all()
    app = latest_collect_app(db())
    return render_template("devices.html", owner=user, devices=listed, qr=qr, qr_png=qr_png, server_url=server_url,
                           app=app)


@bp.get("/collect-app/ODK-Collect.apk")
def collect_app_download():
    """The newest ODK Collect APK an admin uploaded, for any logged-in user's phone to install."""
    if login_required() is None:
        return redirect(url_for("web.login", next=request.path))
    app = latest_collect_app(db())
    if app is None:
        raise Problem(404, "app.not_found", "管理员还没有上传 ODK Collect 安装包。",
                      "No ODK Collect package has been uploaded yet.")
    db().commit()
    response = send_blob(runtime().store, app.sha256, None, app.filename)
    # Android's installer takes a download of this type; it is ours to name, never the uploader's
    response.mimetype = "application/vnd.android.package-archive"
    return response


@bp.route("/users/<int:user_id>/devices/<int:device_id>/revoke", methods=["POST"])
def revoke_device(user_id: int, device_id: int):
    if login_required() is None:
        return redirect(url_for("web.login", next=request.path))
    user = _device_owner(user_id)
    device = db().scalar(select(Device).where(Device.id == device_id, Device.user_id == user.id))
    if device is None:
        raise Problem(404, "device.not_found", "没有这个设备。", "No such device.")
    if device.revoked_at is None:
        device.revoked_at = utcnow()
        record(db(), "device.revoke", f"device:{device.id}", {"user": user.username, "name": device.name})
    db().commit()
    return redirect(url_for("web.devices", user_id=user.id))
