"""Rendering a Problem for whoever asked: OpenRosa XML for devices, JSON for the API, a page for people."""
from __future__ import annotations

from flask import Response, render_template, request

from server.errors import Problem
from server.i18n import current_lang

OPENROSA_BLUEPRINTS = ("openrosa", "openrosa_key")
OPENROSA_PATHS = ("/formList", "/submission", "/forms/", "/key/")


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
