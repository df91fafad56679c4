"""Small helpers the API handlers share: loading query/body with a schema into a Problem on error."""
from __future__ import annotations

from typing import Any, Mapping

from marshmallow import Schema, ValidationError

from server.errors import Problem


def load(schema: Schema, data: Mapping[str, Any]) -> dict[str, Any]:
    try:
        return schema.load(data)
    except ValidationError as exc:
        raise Problem(400, "request.invalid", "请求参数有误。", "The request is not valid.",
                      details=exc.messages) from None
