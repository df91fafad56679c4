"""Every Chinese text a page shows has its English, and the catalogs compile."""
import re
from pathlib import Path

from babel.messages.pofile import read_po

from server.i18n import SOURCES, compile_catalogs

ROOT = Path(__file__).resolve().parents[3]
CALL = re.compile(r"""(?<![\w.])(?:_|gettext|lazy_gettext)\(\s*(['"])(.+?)\1""", re.S)


def english() -> dict[str, str]:
    messages = {}
    for po in SOURCES.glob("*/en.po"):
        with open(po, "rb") as source:
            for message in read_po(source, locale="en"):
                if message.id:
                    messages[message.id] = message.string
    return messages


def texts_in_pages() -> set[str]:
    found = set()
    for path in list((ROOT / "server").rglob("*.html")) + list((ROOT / "server").rglob("*.py")):
        found.update(match.group(2) for match in CALL.finditer(path.read_text(encoding="utf-8")))
    return found


def test_every_page_text_has_an_english_translation():
    translated = english()
    missing = sorted(text for text in texts_in_pages() if not translated.get(text))
    assert texts_in_pages(), "the pages use gettext"
    assert missing == [], f"add these to a server/translations/<part>/en.po: {missing}"


def test_catalogs_compile(tmp_path):
    directories = compile_catalogs(SOURCES, tmp_path)
    assert directories and all((d / "en" / "LC_MESSAGES" / "messages.mo").exists() for d in directories)


def test_no_text_has_two_different_translations():
    """The catalogs are merged at run time: one Chinese text must mean the same in every part of the site."""
    seen: dict[str, tuple[str, str]] = {}
    clashes = []
    for po in sorted(SOURCES.glob("*/en.po")):
        with open(po, "rb") as source:
            for message in read_po(source, locale="en"):
                if not message.id:
                    continue
                first = seen.setdefault(message.id, (po.parent.name, message.string))
                if first[1] != message.string:
                    clashes.append((message.id, first, (po.parent.name, message.string)))
    assert clashes == []
