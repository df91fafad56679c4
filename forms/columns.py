"""A form's export shape: every question a column, in the form's order, and one table per repeat.

Pure (XForm bytes in). The exports (server/exports/) write submissions in this shape, as ODK Central's CSV
export does: group paths joined with "-" (`two_assurances-food_secure`), a geopoint split into latitude,
longitude, altitude and accuracy, a repeat as its own table whose rows carry their parent's KEY. Headers are
"中文标签 (field_name)", so a town clerk reads the question and a script finds the field.

A form has several versions; `merge` gives the union of their shapes (the newest version's order first, then
what only older versions had), so one export holds every submission of the form whatever version it came from.
"""
from __future__ import annotations

import dataclasses
from typing import Iterator
from xml.etree import ElementTree as ET

from defusedxml.ElementTree import fromstring

from forms.compile import XF, primary_instance
from forms.labels import FormLabels, read_labels

JR_TEMPLATE = "{http://openrosa.org/javarosa}template"
#: meta holds the instance's identity (the KEY column) and the entity block: neither is an answer
SKIPPED = ("meta",)
GEOPOINT_PARTS = (("Latitude", "纬度"), ("Longitude", "经度"), ("Altitude", "海拔"), ("Accuracy", "精度"))
JR = "{http://openrosa.org/javarosa}"
#: what the device fills in by itself has no label in the form: name it as the clerk would
PRELOAD_LABELS = {"start": "开始填写时间", "end": "完成时间", "today": "填写日期", "deviceid": "设备标识",
                  "username": "用户名"}


@dataclasses.dataclass(frozen=True)
class Column:
    """One answer of a table: `path` relative to the table's element, `part` set for a geopoint's pieces."""

    path: str
    name: str
    label: str
    kind: str
    part: int | None = None

    @property
    def header(self) -> str:
        return f"{self.label} ({self.name})" if self.label else self.name


@dataclasses.dataclass(frozen=True)
class Table:
    """The main table (`path` "") or a repeat's (`path` from the instance root)."""

    path: str
    name: str
    columns: tuple[Column, ...]
    children: tuple[Table, ...] = ()

    def walk(self) -> Iterator[Table]:
        yield self
        for child in self.children:
            yield from child.walk()


@dataclasses.dataclass(frozen=True)
class ExportShape:
    form_id: str
    main: Table
    labels: FormLabels

    @property
    def repeats(self) -> list[Table]:
        return [t for t in self.main.walk() if t.path]


def export_shape(xform: bytes) -> ExportShape:
    """Pure: the shape of one XForm version's submissions, labels in Chinese (the form's default language)."""
    root = fromstring(xform)
    instance = primary_instance(root)
    binds = {bind.get("nodeset", ""): bind for bind in root.iter(f"{XF}bind") if bind.get("nodeset")}
    types = {nodeset: bind.get("type", "string") for nodeset, bind in binds.items()
             # a note is read-only text with nothing computed: it holds no answer
             if not (bind.get("readonly") == "true()" and bind.get("calculate") is None)}
    labels = read_labels(xform, "zh")
    preloaded = {nodeset: PRELOAD_LABELS[bind.get(f"{JR}preloadParams", "")] for nodeset, bind in binds.items()
                 if bind.get(f"{JR}preloadParams") in PRELOAD_LABELS}
    labels = dataclasses.replace(labels, questions={**{n.split("/", 2)[2]: label for n, label in preloaded.items()},
                                                    **labels.questions})
    form_id = instance.get("id") or instance.tag.removeprefix(XF)
    main = _table(instance, "", form_id, types, labels, f"/{instance.tag.removeprefix(XF)}")
    return ExportShape(form_id, main, labels)


def _table(element: ET.Element, path: str, name: str, types: dict[str, str], labels: FormLabels,
           xpath: str) -> Table:
    columns: list[Column] = []
    children: list[Table] = []

    def visit(node: ET.Element, relative: list[str], node_xpath: str) -> None:
        seen: set[str] = set()
        for child in node:
            tag = child.tag.removeprefix(XF)
            if tag in seen:
                continue  # a repeat's template is followed by one empty instance of it
            seen.add(tag)
            steps = relative + [tag]
            child_xpath = f"{node_xpath}/{tag}"
            full = "/".join(([path] if path else []) + steps)
            if not relative and not path and tag in SKIPPED:
                continue
            if child.get(JR_TEMPLATE) is not None:
                children.append(_table(child, full, f"{name}-{tag}", types, labels, child_xpath))
            elif len(child):
                visit(child, steps, child_xpath)
            elif child_xpath in types:
                kind = types[child_xpath]
                field = "-".join(steps)
                label = labels.questions.get(full, "")
                if kind == "geopoint":
                    columns.extend(Column("/".join(steps), f"{field}-{en}", f"{label} {zh}".strip(), kind, i)
                                   for i, (en, zh) in enumerate(GEOPOINT_PARTS))
                else:
                    columns.append(Column("/".join(steps), field, label, kind))

    visit(element, [], xpath)
    return Table(path, name, tuple(columns), tuple(children))


def merge(shapes: list[ExportShape]) -> ExportShape:
    """The union of several versions' shapes, newest first: a column keeps the newest version's label."""
    if not shapes:
        raise ValueError("no shapes to merge")
    newest = shapes[0]
    main = newest.main
    for older in shapes[1:]:
        main = _merge_table(main, older.main)
    return ExportShape(newest.form_id, main, newest.labels)


def _merge_table(newer: Table, older: Table) -> Table:
    known = {(c.path, c.part) for c in newer.columns}
    columns = newer.columns + tuple(c for c in older.columns if (c.path, c.part) not in known)
    by_path = {t.path: t for t in older.children}
    children = tuple(_merge_table(t, by_path[t.path]) if t.path in by_path else t for t in newer.children)
    children += tuple(t for t in older.children if t.path not in {c.path for c in newer.children})
    return dataclasses.replace(newer, columns=columns, children=children)

