"""GET /api/v1/openapi.json: the API described for scripts and tools (OpenAPI 3.1)."""
from __future__ import annotations

from flask import jsonify

from server.api import bp

_problem = {"$ref": "#/components/schemas/Problem"}


def _op(summary: str, ok: str, params: list[str] = (), roles: str = "any user") -> dict:
    return {
        "summary": summary,
        "description": f"Who may call: {roles}. Records outside the caller's areas answer 404.",
        "parameters": [{"name": p, "in": "path", "required": True, "schema": {"type": "string"}} for p in params],
        "responses": {ok: {"description": "success"},
                      "default": {"description": "a Problem", "content": {"application/json": {"schema": _problem}}}},
    }


SPEC = {
    "openapi": "3.1.0",
    "info": {"title": "Zoufang API", "version": "1"},
    "servers": [{"url": "/api/v1"}],
    "components": {
        "securitySchemes": {"basic": {"type": "http", "scheme": "basic"},
                            "session": {"type": "apiKey", "in": "cookie", "name": "session"}},
        "schemas": {"Problem": {"type": "object", "required": ["code", "status", "message"], "properties": {
            "code": {"type": "string", "examples": ["submission.xml_conflict"]},
            "status": {"type": "integer"},
            "message": {"type": "string"}, "message_zh": {"type": "string"}, "message_en": {"type": "string"},
            "details": {}}}},
    },
    "security": [{"basic": []}, {"session": []}],
    "paths": {
        "/forms": {
            "get": _op("List forms with their current version", "200"),
            "post": _op("Publish an XLSForm (multipart: part 'xlsform' plus media files)", "201", roles="admin"),
        },
        "/forms/{form_id}": {
            "get": _op("One form", "200", ["form_id"]),
            "patch": _op("Set the form's state: open, closing, closed (JSON body {\"state\": …})", "200",
                         ["form_id"], roles="admin"),
        },
        "/roster": {"post": _op("Import the household roster (multipart part 'file', CSV or XLSX, one row per "
                                "person); all rows are checked first and any error refuses the whole file", "200",
                                roles="admin")},
        "/submissions": {"get": {**_op("Submissions in the caller's areas, newest first", "200"), "parameters": [
            {"name": n, "in": "query", "schema": {"type": t}} for n, t in
            (("form_id", "string"), ("household", "string"), ("limit", "integer"), ("offset", "integer"))]}},
        "/submissions/{form_id}/{instance_id}": {"get": _op("One submission", "200", ["form_id", "instance_id"])},
        "/submissions/{form_id}/{instance_id}/xml": {
            "get": _op("The submission's XML as received; ID numbers masked for all but admins", "200",
                       ["form_id", "instance_id"])},
        "/submissions/{form_id}/{instance_id}/attachments/{filename}": {
            "get": _op("A received file of the submission", "200", ["form_id", "instance_id", "filename"])},
    },
}


@bp.get("/openapi.json")
def openapi():
    return jsonify(SPEC)
