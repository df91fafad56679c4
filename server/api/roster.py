"""The roster: admins upload the registered-household list (CSV/XLSX); it is validated whole, then applied."""
from __future__ import annotations

from flask import jsonify, request

from server.api import bp
from server.api.openapi import documented
from server.audit import record
from server.auth import require_api_user
from server.errors import Problem
from server.runtime import db, runtime
from sync.roster import import_roster


@bp.post("/roster")
@documented(files=("file",))
def upload_roster():
    """Import the household roster (admins)

    multipart: `file` (.csv or .xlsx, one row per person); all rows are checked first and any error refuses the
    whole file."""
    require_api_user("admin")
    if request.content_length is not None and request.content_length > runtime().settings.max_form_bytes * 5:
        raise Problem(413, "roster.too_large", "上传的文件太大。", "The upload is too large.")
    upload = request.files.get("file")
    if upload is None or not upload.filename:
        raise Problem(400, "roster.file_missing", "请选择名单文件（字段名 file）。",
                      "Choose the roster file (part named 'file').")
    result = import_roster(db(), upload.read(), upload.filename)
    record(db(), "roster.import", f"file:{upload.filename}", result.to_dict())
    db().commit()
    return jsonify(result.to_dict())
