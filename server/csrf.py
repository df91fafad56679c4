"""CSRF protection for the pages' forms: a per-session token every POST must echo."""
from __future__ import annotations

import hmac
import secrets

from flask import request, session

from server.errors import Problem


def csrf_token() -> str:
    if "csrf" not in session:
        session["csrf"] = secrets.token_urlsafe(32)
    return session["csrf"]


def check_csrf() -> None:
    _compare(request.form.get("csrf_token", ""))


def check_csrf_header() -> None:
    _compare(request.headers.get("X-CSRF-Token", ""))


def _compare(sent: str) -> None:
    if not sent or not hmac.compare_digest(sent, session.get("csrf", "")):
        raise Problem(400, "web.csrf", "页面已过期，请刷新后重试。", "The page has expired; reload it and try again.")
