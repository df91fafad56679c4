"""A published XForm's labels in one language: question, group and choice labels by instance path.

Pure (XForm bytes in): the household file and the submission page show answers with them, and the form tests
check with them that every choice a page names has a label in both languages.
"""
from __future__ import annotations

import dataclasses
import re
from typing import Any
from xml.etree.ElementTree import Element

from defusedxml.ElementTree import fromstring

from sync.instance import local


@dataclasses.dataclass(frozen=True)
class FormLabels:
    """Question, group and choice labels of one XForm in one language, by path relative to the instance root."""

    questions: dict[str, str]
    choices: dict[str, dict[str, str]]
    binary: frozenset[str]
    repeats: frozenset[str]

    def choice(self, path: str, value: Any) -> str:
        options = self.choices.get(path)
        if not options or value in (None, ""):
            return "" if value is None else str(value)
        return "、".join(options.get(part, part) for part in str(value).split())


EMPTY_LABELS = FormLabels({}, {}, frozenset(), frozenset())


def read_labels(xform: bytes, lang: str) -> FormLabels:
    """Pure: the XForm's labels in `lang` ("en" picks an English translation, anything else the default)."""
    root = fromstring(xform)
    translations = [e for e in root.iter() if local(e.tag) == "translation"]
    chosen = None
    if lang == "en":
        chosen = next((t for t in translations if re.search(r"\(en\)|english", t.get("lang", ""), re.I)), None)
    if chosen is None:
        chosen = next((t for t in translations if t.get("default")), translations[0] if translations else None)
    texts: dict[str, str] = {}
    if chosen is not None:
        for text in chosen:
            values = [v for v in text if local(v.tag) == "value"]
            plain = next((v for v in values if not v.get("form")), values[0] if values else None)
            if plain is not None:
                texts[text.get("id", "")] = "".join(plain.itertext()).strip()

    def label_of(element: Element) -> str:
        label = next((c for c in element if local(c.tag) == "label"), None)
        if label is None:
            return ""
        match = re.match(r"jr:itext\('([^']+)'\)", label.get("ref", ""))
        return texts.get(match.group(1), "") if match else "".join(label.itertext()).strip()

    instances: dict[str, dict[str, str]] = {}
    for instance in (e for e in root.iter() if local(e.tag) == "instance" and e.get("id")):
        items = {}
        for item in (e for e in instance.iter() if local(e.tag) == "item"):
            fields_ = {local(c.tag): (c.text or "").strip() for c in item}
            if "name" in fields_:
                items[fields_["name"]] = texts.get(fields_.get("itextId", ""), fields_.get("label", fields_["name"]))
        instances[instance.get("id")] = items

    questions: dict[str, str] = {}
    choices: dict[str, dict[str, str]] = {}
    binary: set[str] = set()
    repeats: set[str] = set()
    for element in root.iter():
        ref = element.get("ref") or element.get("nodeset")
        tag = local(element.tag)
        if not ref or not ref.startswith("/") or tag not in ("input", "select1", "select", "upload", "group",
                                                             "repeat", "trigger", "range", "rank"):
            continue
        path = "/".join(ref.split("/")[2:])
        if tag != "repeat" or path not in questions:
            questions[path] = label_of(element) or questions.get(path, "")
        if tag == "upload":
            binary.add(path)
        if tag == "repeat":
            repeats.add(path)
        itemset = next((c for c in element if local(c.tag) == "itemset"), None)
        if itemset is not None:
            match = re.match(r"instance\('([^']+)'\)", itemset.get("nodeset", ""))
            if match and instances.get(match.group(1)):
                choices[path] = instances[match.group(1)]
        static = [c for c in element if local(c.tag) == "item"]
        if static:
            choices[path] = {next((v.text or "" for v in item if local(v.tag) == "value"), ""): label_of(item)
                             for item in static}
    return FormLabels(questions, choices, frozenset(binary), frozenset(repeats))
