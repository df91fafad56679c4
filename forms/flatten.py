"""One submission as rows of its form's export shape (forms/columns.py): a row for the main table and one per
repeat instance, keyed as ODK Central keys them (`uuid:…`, `uuid:…/members[2]`), so a spreadsheet can join a
repeat's rows to their submission by PARENT_KEY.

Pure (XML bytes in). Values are the answers' text; with `choice_labels` a choice question's codes become their
Chinese labels (the way a clerk reads them), several joined with "、". A submission that no longer parses (it
was accepted, so never in practice) gives one row with its key and nothing else rather than stopping an export.
"""
from __future__ import annotations

import dataclasses
import re
from typing import Callable
from xml.etree import ElementTree
from xml.etree.ElementTree import Element, ParseError

from defusedxml import DefusedXmlException
from defusedxml.ElementTree import fromstring

from forms.columns import Column, ExportShape, Table
from sync.instance import local

CHOICE_KINDS = ("select1", "select", "string")
_DECLARATION = re.compile(rb"\s*<\?xml\s[^>]*\?>")
_UTF8 = re.compile(rb"""encoding\s*=\s*["']utf-?8["']""", re.I)


def parse(xml: bytes) -> Element:
    """An accepted submission's XML, parsed for an export of a million rows.

    defusedxml's parser is pure Python: four times slower than the C one. What it guards against (entities,
    external references) needs a `<!DOCTYPE`, so a document with no `<!` at all, in UTF-8 (no NUL byte, so not
    UTF-16; no other declared encoding, so not EBCDIC), cannot use them and goes to the C parser; anything
    else still goes through defusedxml."""
    declaration = _DECLARATION.match(xml)
    declared = declaration.group(0) if declaration else b""
    if b"<!" not in xml and b"\x00" not in xml and (b"encoding" not in declared or _UTF8.search(declared)):
        return ElementTree.fromstring(xml)
    return fromstring(xml)


@dataclasses.dataclass(frozen=True)
class Row:
    table: Table
    key: str
    parent_key: str
    values: list[str]


def flatten(xml: bytes, shape: ExportShape, key: str, *, choice_labels: bool = True,
            cell: Callable[[Column, str], str] | None = None) -> list[Row]:
    """The rows of one submission, main row first, then each repeat's rows in document order. `cell` may rewrite
    each value (masking ID numbers, naming a photo's file in the zip)."""
    try:
        root = parse(xml)
    except (ParseError, DefusedXmlException, ValueError, LookupError):
        return [Row(shape.main, key, "", [""] * len(shape.main.columns))]
    rows: list[Row] = []

    def value(column: Column, found: Element | None, prefix: str) -> str:
        text = (found.text or "").strip() if found is not None else ""
        if column.part is not None:
            parts = text.split()
            text = parts[column.part] if column.part < len(parts) else ""
        elif choice_labels and text and column.kind in CHOICE_KINDS:
            full = f"{prefix}/{column.path}" if prefix else column.path
            if full in shape.labels.choices:
                text = shape.labels.choice(full, text)
        return cell(column, text) if cell else text

    def emit(table: Table, element: Element, row_key: str, parent_key: str) -> None:
        relatives = {child.path: (child.path.removeprefix(table.path + "/") if table.path else child.path)
                     for child in table.children}
        found = _index(element, set(relatives.values()))
        rows.append(Row(table, row_key, parent_key, [value(c, found.get(c.path), table.path) for c in table.columns]))
        for child in table.children:
            relative = relatives[child.path]
            *parents, tag = relative.split("/")
            holder = found.get("/".join(parents)) if parents else element
            if holder is None:
                continue
            for index, instance in enumerate((e for e in holder if local(e.tag) == tag), start=1):
                emit(child, instance, f"{row_key}/{relative}[{index}]", row_key)

    emit(shape.main, root, key, "")
    return rows


def _index(element: Element, repeats: set[str]) -> dict[str, Element]:
    """Every element under `element` by its path (the first of a name), not entering repeats: one walk per row
    instead of a search per column."""
    found: dict[str, Element] = {}

    def walk(node: Element, prefix: str) -> None:
        for child in node:
            path = f"{prefix}/{local(child.tag)}" if prefix else local(child.tag)
            if path in repeats:
                continue
            found.setdefault(path, child)
            if len(child):
                walk(child, path)

    walk(element, "")
    return found
