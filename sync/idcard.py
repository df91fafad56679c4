"""Resident ID numbers (居民身份证号码, GB 11643-1999): check digit, birth date and sex read from the number."""
from __future__ import annotations

import datetime as dt
import re
from xml.etree.ElementTree import ParseError

from defusedxml import DefusedXmlException
from defusedxml.ElementTree import fromstring

_WEIGHTS = (7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2)
_CHECK = "10X98765432"
_SHAPE = re.compile(r"^\d{17}[\dXx]$")
#: a question that asks for an ID number, by the forms' naming (forms/README.md: `member_change/id_number`); any
#: other answer that is a valid 18-character ID number is masked too, so a form that names it otherwise is covered
_ID_QUESTION = re.compile(r"(^|_)(id_number|id_card|idcard)$", re.IGNORECASE)


def normalize(id_number: str) -> str:
    return id_number.strip().upper()


def check_digit_ok(id_number: str) -> bool:
    """ISO 7064 MOD 11-2 over the first 17 digits must give the 18th."""
    value = normalize(id_number)
    if not _SHAPE.match(value):
        return False
    total = sum(int(digit) * weight for digit, weight in zip(value[:17], _WEIGHTS))
    return _CHECK[total % 11] == value[17]


def birth_date(id_number: str) -> dt.date | None:
    value = normalize(id_number)
    try:
        return dt.date(int(value[6:10]), int(value[10:12]), int(value[12:14]))
    except ValueError:
        return None


def sex(id_number: str) -> str:
    """The 17th digit is odd for men and even for women."""
    return "男" if int(normalize(id_number)[16]) % 2 else "女"


def mask(id_number: str) -> str:
    """ID numbers are sensitive: pages and lists show the region code and the last four characters only."""
    if len(id_number) <= 10:
        return id_number
    return id_number[:6] + "*" * (len(id_number) - 10) + id_number[-4:]


def is_id_number_question(name: str) -> bool:
    return bool(_ID_QUESTION.search(name))


def mask_in_xml(xml: bytes) -> bytes:
    """A submission's XML with every ID number it holds masked, and nothing else changed: the answers of
    ID-number questions, and any answer that is a valid ID number, are replaced wherever their text occurs. For
    whoever may not see full ID numbers (every page; the XML for all but admins). XML that does not parse (it
    was accepted at submission, so never in practice) gives nothing away: the answer is then empty."""
    try:
        root = fromstring(xml)
    except (ParseError, DefusedXmlException, ValueError, LookupError):
        return b""
    found = set()
    for element in root.iter():
        value = (element.text or "").strip()
        if len(element) or len(value) <= 10:
            continue
        if is_id_number_question(element.tag.rsplit("}", 1)[-1]) or check_digit_ok(value):
            found.add(value)
    # longest first, so that a number that contains another is masked whole
    for value in sorted(found, key=len, reverse=True):
        xml = xml.replace(value.encode("utf-8"), mask(value).encode("utf-8"))
    return xml
