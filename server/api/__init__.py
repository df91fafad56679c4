"""The JSON API under /api/v1/: marshmallow schemas in, Problems or schemas out, every read area-scoped."""
from flask import Blueprint

bp = Blueprint("api", __name__, url_prefix="/api/v1")

from server.api import forms, households, openapi, roster, submissions  # noqa: E402,F401  (routes register on bp)
