"""The first admin, when a server starts with none: a one-time link printed in its log, and the page behind it.

Without an admin nobody can create accounts, so a first start would end at a login page nobody can use. The link
carries a random token (only its hash is stored): whoever can read the server's log can open it, which is the
same person who could run `flask --app wsgi users create` on the server. It works while no admin exists and only
once: creating the admin spends every link still open, whichever process printed it. A link rather than a page
for local addresses: behind a reverse proxy on the same machine every request comes from 127.0.0.1.
"""
from __future__ import annotations

import hashlib
import logging
import secrets

from flask import Blueprint, g, redirect, render_template, request, session, url_for
from flask_babel import gettext as _
from sqlalchemy import select
from sqlalchemy.orm import Session

from server.accounts import MIN_PASSWORD, password_errors, username_errors
from server.audit import record
from server.auth import Principal, password_marker
from server.db import session_scope, utcnow
from server.errors import Problem
from server.login_sessions import open_session
from server.models import SetupToken, User
from server.passwords import hash_password
from server.runtime import Runtime, db

log = logging.getLogger("zoufang")
bp = Blueprint("first_admin", __name__)

def needs_first_admin(session: Session) -> bool:
    return session.scalar(select(User.id).where(User.role == "admin").limit(1)) is None


def _key(token: str) -> str:
    return hashlib.sha256(token.encode("utf-8")).hexdigest()


def issue_link(session: Session) -> str:
    """A new token for the setup link (the caller commits). Earlier links stay open: under plain gunicorn each
    worker starting prints one of its own."""
    token = secrets.token_urlsafe(32)
    session.add(SetupToken(token_sha256=_key(token)))
    return token


def announce(rt: Runtime, base_url: str | None = None) -> None:
    """On start: when there is no admin yet, say so in the log with a new setup link and the other ways in."""
    with session_scope(rt.sessions) as session:
        if not needs_first_admin(session):
            return
        path = f"/setup/{issue_link(session)}"
    where = f"{base_url.rstrip('/')}{path}" if base_url else f"{path} on this server"
    log.warning("还没有管理员账号，没有人能登录：用浏览器打开这个一次性链接创建第一个管理员 / No admin account yet, "
                "so nobody can log in. Create the first admin by opening this one-time link in a browser: %s "
                "(it works once, until an admin exists). Or on the server run "
                "`flask --app wsgi users create NAME --role admin`, or start once with ZOUFANG_ADMIN_USER and "
                "ZOUFANG_ADMIN_PASSWORD set.", where)


def _open_link(session: Session, token: str, lock: bool = False) -> list[SetupToken] | None:
    """Every open link (locked with `lock`, so that two links used at once make one admin), when `token` is
    one of them and no admin exists; otherwise None."""
    query = select(SetupToken).where(SetupToken.used_at.is_(None))
    links = session.scalars(query.with_for_update() if lock else query).all()
    if not any(link.token_sha256 == _key(token) for link in links) or not needs_first_admin(session):
        return None
    return list(links)


def _invalid() -> Problem:
    return Problem(404, "setup.link_invalid",
                   "这个设置链接无效或已经用过。请登录；还没有管理员时，服务器每次启动都会在日志中打印新的链接。",
                   "This setup link is invalid or already used. Log in; while there is no admin, the server prints "
                   "a new link in its log at every start.")


def _form_errors(username: str, password: str, repeated: str) -> list[str]:
    errors = username_errors(db(), username) + password_errors(password)
    if not errors and password != repeated:
        errors.append(_("两次输入的密码不一致。"))
    return errors


@bp.route("/setup/<token>", methods=["GET", "POST"])
def setup(token: str):
    if _open_link(db(), token) is None:
        raise _invalid()
    form = {"username": "", "display_name": ""}
    errors: list[str] = []
    if request.method == "POST":  # its CSRF token was checked before the view (server/csrf.py)
        form = {"username": request.form.get("username", "").strip(),
                "display_name": request.form.get("display_name", "").strip()[:100]}
        password = request.form.get("password", "")
        errors = _form_errors(form["username"], password, request.form.get("password_repeat", ""))
        if not errors:
            return _create_admin(token, form, password)
    return render_template("setup.html", form=form, errors=errors, min_password=MIN_PASSWORD), 400 if errors else 200


def _create_admin(token: str, form: dict[str, str], password: str):
    session_ = db()
    session_.rollback()  # the check above read in a transaction of its own; take the locks afresh
    links = _open_link(session_, token, lock=True)
    if links is None:
        raise _invalid()
    user = User(username=form["username"], role="admin", display_name=form["display_name"] or form["username"],
                password_hash=hash_password(password))
    session_.add(user)
    now = utcnow()
    for link in links:
        link.used_at = now
    session_.flush()
    g.principal = Principal(user)  # the person holding the link is the new admin: the audit entry names them
    record(session_, "user.create", f"user:{user.username}",
           {"role": "admin", "display_name": user.display_name, "from": "setup link"})
    session.clear()
    session["sid"] = open_session(session_, user)
    session["pw"] = password_marker(user)
    session.permanent = True
    session_.commit()
    log.info("created the first admin %s with a setup link", user.username)
    return redirect(url_for("web.home"))
