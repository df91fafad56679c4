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

from forms.columns import Column, ExportShape, Table
from sync.instance import local
from sync.safe_xml import parse_xml

CHOICE_KINDS = ("select1", "select", "string")


@dataclasses.dataclass(frozen=True)
class Row:
    table: Table
    key: str
    parent_key: str
    values: list[str]


class Flattener:
    """Rows of submissions of one export shape. What every row needs to know about a column (where it is, which
    piece of a geopoint, the labels of its choices) is worked out once here, not once per row: an export reads a
    million rows."""

    def __init__(self, shape: ExportShape, *, choice_labels: bool = True):
        self.shape = shape
        self.plans = {table.path: _TablePlan(table, shape, choice_labels) for table in shape.main.walk()}

    def rows(self, xml: bytes, key: str, cell: Callable[[Column, str], str] | None = None) -> list[Row]:
        """The rows of one submission, main row first, then each repeat's rows in document order. `cell` may
        rewrite each value (masking ID numbers, naming a photo's file in the zip)."""
        try:
            root = parse_xml(xml)
        except (ParseError, DefusedXmlException, ValueError, LookupError):
            return [Row(self.shape.main, key, "", [""] * len(self.shape.main.columns))]
        rows: list[Row] = []
        self._emit(self.plans[self.shape.main.path], root, key, "", rows, cell)
        return rows

    def _emit(self, plan: _TablePlan, element: Element, row_key: str, parent_key: str, rows: list[Row],
              cell: Callable[[Column, str], str] | None) -> None:
        found = _index(element, plan.repeats)
        values = []
        for column, path, part, options in plan.columns:
            node = found.get(path)
            text = node.text if node is not None else None
            text = text.strip() if text else ""
            if text:
                if part is not None:
                    pieces = text.split()
                    text = pieces[part] if part < len(pieces) else ""
                elif options:
                    text = "、".join(options.get(code, code) for code in text.split())
            values.append(cell(column, text) if cell else text)
        rows.append(Row(plan.table, row_key, parent_key, values))
        for child, relative, parents, tag in plan.children:
            holder = found.get(parents) if parents else element
            if holder is None:
                continue
            index = 0
            for instance in holder:
                if local(instance.tag) == tag:
                    index += 1
                    self._emit(self.plans[child.path], instance, f"{row_key}/{relative}[{index}]", row_key, rows,
                               cell)


class _TablePlan:
    """One table's columns as (column, path, geopoint piece, choice labels) and its repeats as (table, path
    relative to this one, the path of their holder, their tag)."""

    def __init__(self, table: Table, shape: ExportShape, choice_labels: bool):
        self.table = table
        self.columns = []
        for column in table.columns:
            options = None
            if choice_labels and column.part is None and column.kind in CHOICE_KINDS:
                options = shape.labels.choices.get(f"{table.path}/{column.path}" if table.path else column.path)
            self.columns.append((column, column.path, column.part, options or None))
        self.children = []
        for child in table.children:
            relative = child.path.removeprefix(table.path + "/") if table.path else child.path
            parents, _, tag = relative.rpartition("/")
            self.children.append((child, relative, parents, tag))
        self.repeats = {relative for _child, relative, _parents, _tag in self.children}


def flatten(xml: bytes, shape: ExportShape, key: str, *, choice_labels: bool = True,
            cell: Callable[[Column, str], str] | None = None) -> list[Row]:
    """The rows of one submission, main row first, then each repeat's rows in document order. `cell` may rewrite
    each value (masking ID numbers, naming a photo's file in the zip). Many submissions: a Flattener."""
    return Flattener(shape, choice_labels=choice_labels).rows(xml, key, cell)


def _index(element: Element, repeats: set[str]) -> dict[str, Element]:
    """Every element under `element` by its path (the first of a name), not entering repeats: one walk per row
    instead of a search per column."""
    found: dict[str, Element] = {}

    def walk(node: Element, prefix: str) -> None:
        for child in node:
            tag = child.tag
            if tag[0] == "{":
                tag = local(tag)
            path = f"{prefix}/{tag}" if prefix else tag
            if path in repeats:
                continue
            if path not in found:
                found[path] = child
            if len(child):
                walk(child, path)

    walk(element, "")
    return found
