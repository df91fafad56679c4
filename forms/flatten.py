"""One submission as rows of its form's export shape (forms/columns.py): a row for the main table and one per
repeat instance, keyed as ODK Central keys them (`uuid:…`, `uuid:…/members[2]`), so a spreadsheet can join a
repeat's rows to their submission by PARENT_KEY.

Pure (XML bytes in). Values are the answers' text; with `choice_labels` a choice question's codes become their
Chinese labels (the way a clerk reads them), several joined with "、". A submission that no longer parses (it
was accepted, so never in practice) gives one row with its key and nothing else rather than stopping an export.
"""
from __future__ import annotations

import dataclasses
from typing import Callable
from xml.etree.ElementTree import Element, ParseError

from defusedxml import DefusedXmlException
from defusedxml.ElementTree import fromstring

from forms.columns import Column, ExportShape, Table
from sync.instance import local

CHOICE_KINDS = ("select1", "select", "string")


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
        root = fromstring(xml)
    except (ParseError, DefusedXmlException, ValueError, LookupError):
        return [Row(shape.main, key, "", [""] * len(shape.main.columns))]
    rows: list[Row] = []

    def value(column: Column, element: Element, prefix: str) -> str:
        found = _find(element, column.path)
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
        rows.append(Row(table, row_key, parent_key, [value(c, element, table.path) for c in table.columns]))
        for child in table.children:
            relative = child.path.removeprefix(table.path + "/") if table.path else child.path
            *parents, tag = relative.split("/")
            holder = _find(element, "/".join(parents)) if parents else element
            if holder is None:
                continue
            for index, instance in enumerate((e for e in holder if local(e.tag) == tag), start=1):
                emit(child, instance, f"{row_key}/{relative}[{index}]", row_key)

    emit(shape.main, root, key, "")
    return rows


def _find(element: Element, path: str) -> Element | None:
    for step in path.split("/"):
        element = next((c for c in element if local(c.tag) == step), None)
        if element is None:
            return None
    return element
