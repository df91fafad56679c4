"""The checked reader: a submission's answers by path, each made into a value of its type and range or left out.

This is the boundary where the phone's text becomes values. Collect's constraints do not protect the server
(Enketo, scripts, an old form version), and one out-of-range value used to stop its household's record for
good: so a GPS point off the globe, a number that is not finite or beyond any household's means, a date that is
not a date of this programme or a time that cannot be put in UTC becomes a data-quality finding on its
submission and is read as None.

A reader only answers the paths its form declares (sync/forms): a form module cannot read a question it does not
name, and tests/unit/sync/test_form_definitions.py checks every declared path against the compiled XLSForm.
"""
from __future__ import annotations

import datetime as dt
import math
from typing import Any, Callable, Iterable
from xml.etree.ElementTree import Element

from sync.instance import local

CHINA = dt.timezone(dt.timedelta(hours=8))
# the bundled forms' shared choice lists
YES_NO = ("yes", "no")
GRADES = ("A", "B", "C", "D")
#: free text longer than this is cut: a form's notes are a few sentences, and the record is stored per household
MAX_TEXT = 2000
#: counts of people (the forms allow up to 20; more is a typing error, not a household)
MAX_COUNT = 100
#: yuan in one income or spending item (the form allows under ten million)
MAX_YUAN = 100_000_000.0
#: entity versions are stored in 32-bit integer columns
MAX_VERSION = 2**31 - 1
#: no form of this programme is about a day before this one
EARLIEST = dt.date(1900, 1, 1)


class UndeclaredPath(LookupError):
    """A form module read a path it does not declare: a programming error, caught by the form tests."""


def finding(code: str, instance_id: str, zh: str, en: str, **details) -> dict[str, Any]:
    return {"code": code, "message_zh": zh, "message_en": en, "details": {"instance_id": instance_id, **details}}


class Reader:
    """Typed values of one submission by path; a value out of its range is noted as a finding and read as None."""

    def __init__(self, get: Callable[[str], str | None], instance_id: str, latest_day: dt.date,
                 declared: Iterable[str] | None = None, findings: list[dict[str, Any]] | None = None,
                 prefix: str = ""):
        self._get = get
        self.declared = None if declared is None else frozenset(declared)
        self.instance_id = instance_id
        self.latest_day = latest_day
        self.findings: list[dict[str, Any]] = [] if findings is None else findings
        self.prefix = prefix

    def within(self, element: Element, prefix: str) -> "Reader":
        """The values of a repeat's item, whose findings are the submission's."""
        return Reader(getter(element), self.instance_id, self.latest_day, self.declared, self.findings,
                      self.prefix + prefix)

    def get(self, path: str) -> str | None:
        if self.declared is not None and self.prefix + path not in self.declared:
            raise UndeclaredPath(self.prefix + path)
        return self._get(path)

    def ignore(self, path: str, value: str, why_zh: str, why_en: str, cut: bool = False) -> None:
        path = self.prefix + path
        shown = value if len(value) <= 40 else value[:40] + "…"
        self.findings.append(finding(
            "value_out_of_range", self.instance_id,
            f"提交 {self.instance_id} 的“{path}”值“{shown}”{why_zh}，{'已截断' if cut else '已忽略'}",
            f"Submission {self.instance_id}: the value '{shown}' of '{path}' {why_en}, and is "
            f"{'cut' if cut else 'ignored'}", field=path, value=shown))

    def text(self, path: str, value: str | None = None, limit: int = MAX_TEXT) -> str | None:
        value = self.get(path) if value is None else value
        if value and len(value) > limit:
            self.ignore(path, value, f"超过 {limit} 个字符", f"is longer than {limit} characters", cut=True)
            value = value[:limit]
        return value

    def choice(self, path: str, allowed: tuple[str, ...]) -> str | None:
        value = self.get(path)
        if value is not None and value not in allowed:
            self.ignore(path, value, "不是表单的选项", "is not one of the form's choices")
            return None
        return value

    def choices(self, path: str, allowed: tuple[str, ...]) -> list[str]:
        chosen = []
        for value in (self.get(path) or "").split():
            if value in allowed:
                chosen.append(value)
            else:
                self.ignore(path, value, "不是表单的选项", "is not one of the form's choices")
        return chosen

    def integer(self, path: str, low: int, high: int, value: str | None = None) -> int | None:
        return self._ranged(path, self.get(path) if value is None else value, _int, low, high, "整数", "whole number")

    def number(self, path: str, low: float, high: float) -> float | None:
        return self._ranged(path, self.get(path), _number, low, high, "数", "number")

    def _ranged(self, path: str, value: str | None, parse, low, high, kind_zh: str, kind_en: str):
        if value in (None, ""):
            return None
        number = parse(value)
        if number is None or not low <= number <= high:
            self.ignore(path, value, f"不是 {low:g} 到 {high:g} 之间的{kind_zh}",
                        f"is not a {kind_en} from {low:g} to {high:g}")
            return None
        return number

    def date(self, path: str, value: str | None = None) -> str | None:
        """An ISO date (the form's own text, so that records keep what the phone said) between 1900 and the day
        after the submission arrived."""
        value = self.get(path) if value is None else value
        if not value:
            return None
        day = to_date(value)
        if day is None or not EARLIEST <= day <= self.latest_day:
            self.ignore(path, value, "不是有效日期，或晚于收到日期", "is not a date, or is after the day it arrived")
            return None
        return day.isoformat()

    def stamp(self, path: str) -> dt.datetime | None:
        value = self.get(path)
        if not value:
            return None
        stamp = to_utc(value)
        if stamp is None or stamp.date() < EARLIEST:
            self.ignore(path, value, "不是可换算的时间", "is not a time that can be put in UTC")
            return None
        return stamp

    def gps(self, path: str) -> dict[str, float | None] | None:
        value = self.get(path)
        parts = (value or "").split()
        if not parts:
            return None
        numbers = [_finite(p) for p in parts[:4]]
        if len(parts) < 2 or numbers[0] is None or numbers[1] is None \
                or not (-90 <= numbers[0] <= 90 and -180 <= numbers[1] <= 180):
            self.ignore(path, value, "不是地球上的位置", "is not a point on the globe")
            return None
        altitude = numbers[2] if len(numbers) > 2 else None
        accuracy = numbers[3] if len(numbers) > 3 else None
        if (len(numbers) > 2 and altitude is None) or (len(numbers) > 3 and (accuracy is None or accuracy < 0)):
            self.ignore(path, value, "的高度或精度无效", "has an invalid altitude or accuracy")
            accuracy = accuracy if accuracy is not None and accuracy >= 0 else None
        return {"latitude": numbers[0], "longitude": numbers[1], "altitude": altitude, "accuracy": accuracy}


def getter(root: Element):
    """Values by relative path ("two_assurances/food_secure"), indexed in one walk; the first of repeats wins."""
    values: dict[str, str] = {}

    def index(element: Element, prefix: str) -> None:
        for child in element:
            path = prefix + local(child.tag)
            if len(child):
                index(child, path + "/")
            elif path not in values:
                text = (child.text or "").strip()
                if text:
                    values[path] = text
    index(root, "")
    return values.get


def to_utc(value: str | None) -> dt.datetime | None:
    if not value:
        return None
    try:
        stamp = dt.datetime.fromisoformat(value)
        if stamp.tzinfo is None:
            stamp = stamp.replace(tzinfo=CHINA)  # Collect always sends an offset; a bare time is local
        # 9999-12-31T23:00-10:00 is a valid ISO time whose UTC is in the year 10000
        return stamp.astimezone(dt.timezone.utc)
    except (ValueError, OverflowError):
        return None


def to_date(value: str | None) -> dt.date | None:
    try:
        return dt.date.fromisoformat(value[:10]) if value else None
    except ValueError:
        return None


def _int(value: str | None) -> int | None:
    try:
        # Python refuses to turn more than 4300 digits into an int (ValueError), so no text is too long here
        return int(value) if value not in (None, "") else None
    except ValueError:
        return None


def _finite(value: str) -> float | None:
    try:
        number = float(value)
    except ValueError:
        return None
    return number if math.isfinite(number) else None


def _number(value: str | None) -> float | None:
    number = _finite(value) if value not in (None, "") else None
    return round(number, 2) if number is not None else None


def truthy(value: str | None) -> bool:
    return (value or "").strip().lower() in ("1", "true")
