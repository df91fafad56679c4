"""Rendering a Problem for whoever asked: OpenRosa XML for devices, JSON for the API, a page for people; and
the HTTP status of each kind of domain error."""
from __future__ import annotations

from flask import Response, render_template, request

from server.errors import DomainError, Problem
from server.i18n import current_lang

OPENROSA_BLUEPRINTS = ("openrosa", "openrosa_key")
OPENROSA_PATHS = ("/formList", "/submission", "/forms/", "/key/")

#: the one place where a domain refusal becomes an HTTP status
STATUS_OF_KIND = {"invalid": 400, "forbidden": 403, "not_found": 404, "conflict": 409, "too_large": 413}


def problem_from(error: DomainError) -> Problem:
    return Problem(STATUS_OF_KIND[error.kind], error.code, error.message_zh, error.message_en, error.details)


def render_problem(problem: Problem) -> Response:
    if request.blueprint in OPENROSA_BLUEPRINTS or request.path.startswith(OPENROSA_PATHS):
        from server.openrosa import add_openrosa_headers
        response = add_openrosa_headers(Response(problem.to_openrosa(), status=problem.status,
                                                 content_type="text/xml; charset=utf-8"))
    elif request.path.startswith("/api/"):
        response = Response(problem.to_json(current_lang()), status=problem.status,
                            content_type="application/json; charset=utf-8")
    else:
        response = Response(render_template("error.html", problem=problem), status=problem.status,
                            content_type="text/html; charset=utf-8")
    for name, value in problem.headers.items():
        response.headers[name] = value
    return response
