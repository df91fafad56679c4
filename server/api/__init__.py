"""The JSON API under /api/v1/: marshmallow schemas in, Problems or schemas out, every read area-scoped.

Every module of this package adds its routes to `bp`; they are all imported here, so a new module needs no
edit elsewhere.
"""
import importlib
import pkgutil

from flask import Blueprint

bp = Blueprint("api", __name__, url_prefix="/api/v1")

for _module in sorted(pkgutil.iter_modules(__path__), key=lambda m: m.name):
    importlib.import_module(f"{__name__}.{_module.name}")
