"""GET /api/v1/openapi.json: the API described for scripts and tools (OpenAPI 3.1), built by apispec.

The paths come from the app's own URL map, so a route cannot be left out: every rule of the `api` blueprint is
an operation, its path parameters read from the rule, its summary and description from the view's docstring.
What a view reads and answers is declared next to it with `@documented(...)`, as the marshmallow schemas the
handler itself loads and dumps (apispec's marshmallow plugin turns them into parameters and components).
"""
from __future__ import annotations

import dataclasses
import inspect
import re
from typing import Any, Callable

from apispec import APISpec
from apispec.ext.marshmallow import MarshmallowPlugin
from apispec.ext.marshmallow.common import resolve_schema_instance
from flask import Flask, current_app, jsonify
from marshmallow import Schema

from server.api import bp

PREFIX = "/api/v1"
#: a Werkzeug rule's variable: <name> or <converter:name>, e.g. <int:user_id>, <any(thumb, preview):size>
_VARIABLE = re.compile(r"<(?:(?P<converter>[^:<>]+):)?(?P<name>\w+)>")
_PROBLEM = {"type": "object", "required": ["code", "status", "message"], "properties": {
    "code": {"type": "string", "examples": ["submission.xml_conflict"]},
    "status": {"type": "integer"},
    "message": {"type": "string"}, "message_zh": {"type": "string"}, "message_en": {"type": "string"},
    "details": {}}}


@dataclasses.dataclass(frozen=True)
class Doc:
    """What a view reads and answers, for the document (the handler's own `load` and `dump` do the work)."""

    query: type[Schema] | None = None
    #: a JSON body
    body: type[Schema] | None = None
    #: a multipart body: the names of its file parts
    files: tuple[str, ...] = ()
    #: a schema (instance for `many=True`), a JSON-schema dict (may hold schemas), or None for "an object"
    response: Any = None
    status: int = 200
    #: for answers that are not JSON: their media type (the body is then described as a string or bytes)
    media_type: str = "application/json"


def documented(**doc: Any) -> Callable:
    def mark(view: Callable) -> Callable:
        view.openapi_doc = Doc(**doc)
        return view
    return mark


def page_of(schema: type[Schema]) -> dict:
    """The answer of a paged list: {"total": …, "items": […]}."""
    return {"type": "object", "properties": {"total": {"type": "integer"},
                                             "items": {"type": "array", "items": schema}}}


def _schema_name(schema: Any) -> str | None:
    # a schema narrowed with only/exclude is written inline: it is not the named component
    instance = resolve_schema_instance(schema)
    if instance.only or instance.exclude:
        return None
    return type(instance).__name__.removesuffix("Schema")


def build_spec(app: Flask) -> dict:
    spec = APISpec(title="Zoufang API", version="1", openapi_version="3.1.0",
                   plugins=[MarshmallowPlugin(schema_name_resolver=_schema_name)], servers=[{"url": PREFIX}],
                   security=[{"bearer": []}, {"basic": []}, {"session": []}])
    spec.components.security_scheme("bearer", {"type": "http", "scheme": "bearer",
                                               "description": "a user's API token, made on /users/<id>/api-tokens"})
    spec.components.security_scheme("basic", {"type": "http", "scheme": "basic"})
    spec.components.security_scheme("session", {"type": "apiKey", "in": "cookie", "name": "session"})
    spec.components.schema("Problem", _PROBLEM)
    paths: dict[str, dict] = {}
    for rule in sorted(app.url_map.iter_rules(), key=lambda r: r.rule):
        if rule.endpoint.split(".")[0] != bp.name:
            continue
        view = app.view_functions[rule.endpoint]
        operations = paths.setdefault(_path(rule.rule), {})
        for method in sorted(rule.methods - {"HEAD", "OPTIONS"}):
            operations[method.lower()] = _operation(rule.rule, view)
    for path, operations in paths.items():
        spec.path(path=path, operations=operations)
    return spec.to_dict()


def _path(rule: str) -> str:
    return _VARIABLE.sub(lambda m: "{" + m["name"] + "}", rule.removeprefix(PREFIX))


def _operation(rule: str, view: Callable) -> dict:
    doc: Doc = getattr(view, "openapi_doc", Doc())
    summary, _, description = (inspect.getdoc(view) or view.__name__.replace("_", " ")).partition("\n")
    operation: dict[str, Any] = {"summary": summary,
                                 "parameters": [_path_parameter(m) for m in _VARIABLE.finditer(rule)]}
    if description.strip():
        operation["description"] = description.strip()
    if doc.query is not None:
        operation["parameters"].append({"in": "query", "schema": doc.query})
    if doc.body is not None:
        operation["requestBody"] = {"required": True, "content": {"application/json": {"schema": doc.body}}}
    elif doc.files:
        operation["requestBody"] = {"required": True, "content": {"multipart/form-data": {"schema": {
            "type": "object", "required": [doc.files[0]],
            "properties": {name: {"type": "string", "format": "binary"} for name in doc.files}}}}}
    operation["responses"] = {
        str(doc.status): {"description": "success", "content": {doc.media_type: {"schema": _response_schema(doc)}}},
        "default": {"description": "a Problem",
                    "content": {"application/json": {"schema": {"$ref": "#/components/schemas/Problem"}}}}}
    return operation


def _response_schema(doc: Doc) -> Any:
    if doc.media_type != "application/json":
        return {"type": "string"} if doc.media_type.startswith("text/") else {"type": "string", "format": "binary"}
    return doc.response if doc.response is not None else {"type": "object"}


def _path_parameter(variable: re.Match) -> dict:
    converter = variable["converter"] or "default"
    if converter == "int":
        schema = {"type": "integer"}
    elif converter.startswith("any("):
        schema = {"type": "string", "enum": [c.strip() for c in converter[4:-1].split(",")]}
    else:
        schema = {"type": "string"}
    return {"name": variable["name"], "in": "path", "required": True, "schema": schema}


@bp.get("/openapi.json")
@documented(response={"type": "object", "description": "this document"})
def openapi():
    """This API described as OpenAPI 3.1, generated from the routes themselves"""
    return jsonify(build_spec(current_app))
