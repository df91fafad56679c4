"""Page language with Flask-Babel: Chinese by default, English on request (?lang=en, remembered in a cookie).

The msgids are the Chinese the pages show, so Chinese needs no catalog. English lives in plain .po files,
one per part of the site (server/translations/<part>/en.po), compiled into the data dir when the app starts,
so that no binary .mo file is kept in the repository and a catalog is never stale.
"""
from __future__ import annotations

import functools
import io
import os
import tempfile
from pathlib import Path

from babel.messages.mofile import write_mo
from babel.messages.pofile import read_po
from flask import Flask, request
from flask_babel import Babel

LANGS = ("zh", "en")
SOURCES = Path(__file__).resolve().parent / "translations"


def current_lang() -> str:
    lang = request.args.get("lang") or request.cookies.get("lang")
    return lang if lang in LANGS else "zh"


@functools.lru_cache(maxsize=32)
def _compiled(po: Path, lang: str, mtime_ns: int) -> bytes:
    """A catalog's .mo bytes, parsed once per process and version of the .po: an app made for another data dir (the
    tests make one per test) writes them again without parsing the .po again."""
    with open(po, "rb") as source:
        catalog = read_po(source, locale=lang)
    out = io.BytesIO()
    write_mo(out, catalog)
    return out.getvalue()


def compile_catalogs(sources: Path, target: Path) -> list[Path]:
    """Compile every <part>/<lang>.po under `sources` into <target>/<part>/<lang>/LC_MESSAGES/messages.mo."""
    directories = []
    for po in sorted(sources.glob("*/*.po")):
        part, lang = po.parent.name, po.stem
        mo = target / part / lang / "LC_MESSAGES" / "messages.mo"
        if not mo.exists() or mo.stat().st_mtime < po.stat().st_mtime:
            mo.parent.mkdir(parents=True, exist_ok=True)
            # several gunicorn workers may compile at once: each writes its own temporary file, then renames it
            fd, partial = tempfile.mkstemp(dir=mo.parent, suffix=".part")
            with os.fdopen(fd, "wb") as out:
                out.write(_compiled(po, lang, po.stat().st_mtime_ns))
            os.replace(partial, mo)
        if target / part not in directories:
            directories.append(target / part)
    return directories


def init_i18n(app: Flask, data_dir: Path) -> None:
    directories = compile_catalogs(SOURCES, data_dir / "translations")
    app.config["BABEL_DEFAULT_LOCALE"] = "zh"
    app.config["BABEL_TRANSLATION_DIRECTORIES"] = ";".join(str(d) for d in directories)
    Babel(app, locale_selector=current_lang)
