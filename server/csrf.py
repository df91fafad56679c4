"""CSRF protection, by Flask-WTF's `CSRFProtect`: every state-changing request to a page must echo the session's
token, in the form's `csrf_token` field or the `X-CSRF-Token` header (templates call `csrf_token()`).

Exempt from the automatic check: the OpenRosa endpoints and the JSON API, whose handlers check only the callers
that come with the browser session (server/auth.py: the web form posting to /submission, a page's script calling
the API); devices (token or Basic credentials) and scripts (Bearer or Basic) send no cookie to abuse and need no
token.
"""
from __future__ import annotations

from flask import Blueprint, Flask, request
from flask_wtf.csrf import CSRFError, CSRFProtect, validate_csrf
from wtforms import ValidationError

from server.errors import Problem
from server.render import render_problem

csrf = CSRFProtect()


def init_csrf(app: Flask, *, exempt: tuple[Blueprint, ...]) -> None:
    # a token lasts as long as the session it belongs to (a page left open for hours still posts), as before
    app.config["WTF_CSRF_TIME_LIMIT"] = None
    csrf.init_app(app)
    for blueprint in exempt:
        csrf.exempt(blueprint)

    @app.errorhandler(CSRFError)
    def _csrf_failed(error: CSRFError):
        return render_problem(Problem(400, "web.csrf", "页面已过期，请刷新后重试。",
                                      "The page has expired; reload it and try again."))


def protect_by_header() -> None:
    """The check for a page's script posting a body that must stay unread until its handler streams it (the web
    form's submission, server/openrosa.py): the token only from the X-CSRF-Token header, never from the form fields
    (reading them would consume the upload). Safe methods pass."""
    if request.method in ("GET", "HEAD", "OPTIONS"):
        return
    try:
        validate_csrf(request.headers.get("X-CSRF-Token"))
    except ValidationError:
        raise CSRFError() from None
