"""Reading a submission's XML: which form and version, which instance, which household, which files.

Pure functions over bytes. Any DOCTYPE is refused (defusedxml, forbid_dtd; sync/safe_xml.py), so a hostile
submission can neither expand itself nor name a file or URL for a parser to reach; ODK clients never send one.
"""
from __future__ import annotations

import dataclasses
from xml.etree.ElementTree import Element, ParseError

from defusedxml import DefusedXmlException, DTDForbidden

from server.errors import DomainError
from sync.safe_xml import parse_xml


MAX_ID = 255
MAX_HOUSEHOLD_NUMBER = 32
MAX_FILENAME = 255
#: elements, and attributes, a submission may have. A parsed element or attribute costs ElementTree about 80-300
#: bytes however few it takes in the XML, so a part of 10 MB of `<a/>` took 20 times its size; with this bound
#: parsing takes at most a few times the XML's size (tests/unit/sync/test_instance.py measures it). A real
#: submission has a few hundred. Counted as "<" and "=" in the bytes, an upper bound of each that costs a scan at
#: memory speed, before anything is parsed.
MAX_MARKUP = 100_000


@dataclasses.dataclass(frozen=True)
class ParsedInstance:
    root: Element
    xml_form_id: str
    version: str
    instance_id: str
    deprecated_id: str | None
    instance_name: str | None
    household_number: str | None


def local(tag: str) -> str:
    return tag.rsplit("}", 1)[-1]


def _child(element: Element | None, name: str) -> Element | None:
    if element is None:
        return None
    for child in element:
        if local(child.tag) == name:
            return child
    return None


def _text(element: Element | None) -> str | None:
    if element is None or element.text is None:
        return None
    value = element.text.strip()
    return value or None


def parse_instance(xml: bytes, *, stored: bool = False) -> ParsedInstance:
    """`stored`: XML already accepted, read again; it may predate the refusal of DOCTYPEs (entities never were
    accepted) and the bound on its markup, and must stay readable."""
    if not stored and (xml.count(b"<") > MAX_MARKUP or xml.count(b"=") > MAX_MARKUP):
        raise DomainError("too_large", "submission.xml_too_complex", f"提交的 XML 元素或属性过多（上限 {MAX_MARKUP} 个）。",
                          f"The submitted XML has too many elements or attributes (the limit is {MAX_MARKUP}).")
    try:
        root = parse_xml(xml, forbid_dtd=not stored)
    except DTDForbidden:
        raise DomainError("invalid", "submission.xml_doctype", "提交的 XML 含有文档类型声明（DOCTYPE），不予接受。",
                          "The submitted XML has a document type declaration (DOCTYPE); it is refused.") from None
    except (ParseError, DefusedXmlException, ValueError, LookupError) as exc:  # LookupError: unknown encoding
        raise DomainError("invalid", "submission.xml_invalid", f"提交的 XML 无法解析：{exc}",
                          f"The submitted XML could not be parsed: {exc}") from None
    xml_form_id = root.get("id")
    if not xml_form_id:
        raise DomainError("invalid", "submission.form_id_missing", "提交的 XML 根元素没有 id 属性（表单 ID）。",
                          "The submission's root element has no id attribute (the form ID).")
    meta = _child(root, "meta")
    instance_id = _text(_child(meta, "instanceID"))
    if not instance_id:
        raise DomainError("invalid", "submission.instance_id_missing", "提交缺少 meta/instanceID。",
                          "The submission has no meta/instanceID.")
    deprecated_id = _text(_child(meta, "deprecatedID"))
    for name, value in (("instanceID", instance_id), ("deprecatedID", deprecated_id), ("id", xml_form_id),
                        ("version", root.get("version"))):
        if value and len(value) > MAX_ID:
            raise DomainError("invalid", "submission.id_too_long", f"{name} 超过 {MAX_ID} 个字符。",
                              f"The submission's {name} is longer than {MAX_ID} characters.")
    household = _household_number(root, meta)
    return ParsedInstance(
        root=root,
        xml_form_id=xml_form_id,
        version=root.get("version") or "",
        instance_id=instance_id,
        deprecated_id=deprecated_id,
        instance_name=(_text(_child(meta, "instanceName")) or "")[:MAX_ID] or None,
        # a value that long cannot be a household number: keep the submission, name no household
        household_number=household if household and len(household) <= MAX_HOUSEHOLD_NUMBER else None,
    )


def _household_number(root: Element, meta: Element | None) -> str | None:
    entity = _child(meta, "entity")
    if entity is not None and entity.get("dataset") == "households" and entity.get("id"):
        return entity.get("id").strip()
    for element in root.iter():
        if local(element.tag) == "household":
            return _text(element)
    return None


def referenced_files(root: Element, binary_paths: list[str]) -> list[str]:
    """File names the instance gives for the form's binary questions, repeats included, in document order."""
    names: list[str] = []
    for path in binary_paths:
        steps = [s for s in path.split("/") if s][1:]  # the first step is the instance root itself
        for element in _walk(root, steps):
            value = _text(element)
            if value and len(value) > MAX_FILENAME:
                raise DomainError("invalid", "submission.filename_too_long", f"文件名超过 {MAX_FILENAME} 个字符：{value[:40]}…",
                                  f"A file name is longer than {MAX_FILENAME} characters: {value[:40]}…")
            if value and value not in names:
                names.append(value)
    return names


def _walk(element: Element, steps: list[str]):
    if not steps:
        yield element
        return
    for child in element:
        if local(child.tag) == steps[0]:
            yield from _walk(child, steps[1:])
