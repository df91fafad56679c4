"""Submission instances made from a compiled form: the XForm's primary instance, filled with given values.

Tests and the demo build the submissions of the bundled forms here rather than writing their XML by hand, so each
submission carries its own form's id and version and the shape that form has now: raising a form's version or
adding a question changes the instances of that form and of no other, and a value given for a question the form
does not have (a typo, a question renamed or removed) raises instead of silently going missing.

Values are given by path relative to the instance root (`"two_assurances/food_secure"`); a repeat takes a list
of such dicts, one per repeat instance, with paths relative to the repeat. What is not given stays empty, as
Collect sends a question nobody answered, and a repeat not given has no instances.
"""
from __future__ import annotations

import dataclasses
import functools
from pathlib import Path
from typing import Any, Mapping
from xml.etree import ElementTree as ET
from xml.sax.saxutils import escape, quoteattr

from forms import BUNDLED_DIR
from forms.compile import ENTITIES, XF, compile_xlsform, primary_instance

JR = "{http://openrosa.org/javarosa}"
#: the prefixes a submission's root declares, as Collect's do; the instance's own elements are in no namespace
DECLARED = {"jr": JR, "orx": "{http://openrosa.org/xforms}", "entities": ENTITIES}
#: Collect adds this to `meta` when a saved instance is edited; pyxform's skeleton has no place for it
DEPRECATED_ID = "deprecatedID"


@dataclasses.dataclass(frozen=True)
class _Node:
    name: str
    attributes: tuple[tuple[str, str], ...]
    children: tuple[_Node, ...]
    repeat: bool = False
    #: written only when given a value that is not empty (meta/deprecatedID)
    optional: bool = False

    def child(self, name: str) -> _Node | None:
        return next((c for c in self.children if c.name == name), None)


@dataclasses.dataclass(frozen=True)
class InstanceTemplate:
    """One form's instance skeleton, ready to fill."""
    form_id: str
    version: str
    root: _Node

    def fill(self, values: Mapping[str, Any] | None = None, *, entity: Mapping[str, Any] | None = None) -> bytes:
        """The instance XML with `values` (path → value; a repeat's path → list of dicts) and the attributes of
        `meta/entity` replaced by `entity` (dataset, id, update, baseVersion, trunkVersion, branchId); None is
        an empty value. Raises ValueError for a path or attribute the form does not have."""
        tree = _nest(self.root, values or {}, self.form_id, "")
        root = self._with_entity(entity) if entity is not None else self.root
        declarations = "".join(f" xmlns:{prefix}={quoteattr(uri[1:-1])}" for prefix, uri in DECLARED.items())
        out = [f"<{root.name}{declarations}{_attributes(root)}>"]
        for child in root.children:
            _write(child, tree.get(child.name), out)
        out.append(f"</{root.name}>")
        return "".join(out).encode("utf-8")

    def _with_entity(self, given: Mapping[str, Any]) -> _Node:
        meta = self.root.child("meta")
        entity = meta and meta.child("entity")
        if entity is None:
            raise ValueError(f"{self.form_id}: the form declares no entity, so it has no meta/entity to fill")
        attributes = dict(entity.attributes)
        for name, value in given.items():
            if name not in attributes:
                raise ValueError(f"{self.form_id}: meta/entity has no attribute {name!r} (it has "
                                 f"{', '.join(attributes)})")
            attributes[name] = _text(value)
        entity = dataclasses.replace(entity, attributes=tuple(attributes.items()))
        meta = dataclasses.replace(meta, children=tuple(entity if c.name == "entity" else c for c in meta.children))
        return dataclasses.replace(self.root, children=tuple(meta if c.name == "meta" else c
                                                             for c in self.root.children))


def bundled(form_id: str) -> InstanceTemplate:
    """The template of a bundled form, forms/xlsforms/<form_id>.xlsx."""
    return template(BUNDLED_DIR / f"{form_id}.xlsx")


def template(path: Path) -> InstanceTemplate:
    """The template of the XLSForm at `path`, compiled once per content of the file (pyxform takes ~0.1 s)."""
    return _compiled(path.read_bytes(), path.name)


@functools.lru_cache(maxsize=32)
def _compiled(content: bytes, filename: str) -> InstanceTemplate:
    compiled = compile_xlsform(content, filename)
    root = _node(primary_instance(ET.fromstring(compiled.xform)))
    return InstanceTemplate(form_id=compiled.xml_form_id, version=compiled.version, root=root)


def _node(element: ET.Element) -> _Node:
    children = []
    seen_repeats = set()
    for child in element:
        name = child.tag.removeprefix(XF)
        if name in seen_repeats:
            continue  # pyxform emits a repeat's template and then one empty instance of it; the template will do
        repeat = child.get(f"{JR}template") is not None
        if repeat:
            seen_repeats.add(name)
        children.append(dataclasses.replace(_node(child), repeat=repeat))
        if name == "instanceID" and element.tag == f"{XF}meta":
            children.append(_Node(DEPRECATED_ID, (), (), optional=True))
    attributes = tuple((name, value) for name, value in element.attrib.items() if name != f"{JR}template")
    return _Node(element.tag.removeprefix(XF), attributes, tuple(children))


def _nest(node: _Node, values: Mapping[str, Any], form_id: str, prefix: str) -> dict[str, Any]:
    """{"a/b": 1, "r": [{"c": 2}]} → {"a": {"b": "1"}, "r": [{"c": "2"}]}, each path checked against the form."""
    tree: dict[str, Any] = {}
    for path, value in values.items():
        here, target = tree, node
        steps = path.split("/")
        for depth, step in enumerate(steps):
            target = target.child(step)
            where = prefix + "/".join(steps[:depth + 1])
            if target is None:
                raise ValueError(f"{form_id}: the form has no question at {where!r}")
            if depth < len(steps) - 1:
                if target.repeat or not target.children:
                    raise ValueError(f"{form_id}: {where!r} is not a group, so the form has no {prefix + path!r}")
                here = here.setdefault(step, {})
        if target.repeat:
            if not isinstance(value, (list, tuple)) or not all(isinstance(item, Mapping) for item in value):
                raise ValueError(f"{form_id}: {prefix + path!r} is a repeat; give a list of dicts, one per instance")
            here[target.name] = [_nest(target, item, form_id, f"{prefix}{path}[{i}]/") for i, item in enumerate(value)]
        elif target.children:
            raise ValueError(f"{form_id}: {prefix + path!r} is a group; give the paths of its questions")
        else:
            here[target.name] = _text(value)
    return tree


def _text(value: Any) -> str:
    return "" if value is None else str(value)


def _write(node: _Node, given: Any, out: list[str]) -> None:
    if node.repeat:
        for item in given or ():
            _element(node, item, out)
    elif given or not node.optional:
        _element(node, given, out)


def _element(node: _Node, given: Any, out: list[str]) -> None:
    if node.children:
        out.append(f"<{node.name}{_attributes(node)}>")
        for child in node.children:
            _write(child, (given or {}).get(child.name), out)
        out.append(f"</{node.name}>")
    elif given:
        out.append(f"<{node.name}{_attributes(node)}>{escape(given)}</{node.name}>")
    else:
        out.append(f"<{node.name}{_attributes(node)}/>")


def _attributes(node: _Node) -> str:
    return "".join(f" {name}={quoteattr(value)}" for name, value in node.attributes)
