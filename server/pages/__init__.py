"""The supervisors' pages, one module per part of the site, each with a Blueprint named `bp`.

Modules are found and registered here, so adding a page module needs no edit elsewhere; the navigation bar
(server/pages/common.py NAV) shows a part only once its endpoint exists. Filters every page's templates share
are registered here too.
"""
from __future__ import annotations

import importlib
import pkgutil

from flask import Flask

from server.pages.common import local_time


def register_pages(app: Flask) -> None:
    app.add_template_filter(local_time)
    for module_info in sorted(pkgutil.iter_modules(__path__), key=lambda m: m.name):
        module = importlib.import_module(f"{__name__}.{module_info.name}")
        blueprint = getattr(module, "bp", None)
        if blueprint is not None:
            app.register_blueprint(blueprint)
