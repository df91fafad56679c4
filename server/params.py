"""Bounds and constants that the API and the pages both read: how far a list may be paged, what a month looks
like, China time and this month in it. Shell-side (marshmallow), shared so that api and pages need not import
each other."""
from __future__ import annotations

import datetime as dt
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from marshmallow import validate

#: the furthest a list may be paged: more rows than any deployment holds, and inside every database's integers
#: (a larger offset reached the driver and failed there with an OverflowError, a 500)
MAX_OFFSET = 10_000_000
#: YYYY-MM in the years the data can be about: a year further out broke the date arithmetic of the coverage
#: trend and the month switch (Python's dates end at 9999). ASCII digits only (\d also takes other scripts').
MONTH_PATTERN = r"^(19[7-9][0-9]|2[0-9]{3})-(0[1-9]|1[0-2])$"
#: the same, for Python: its $ also matches before a final newline
MONTH = validate.Regexp(MONTH_PATTERN.removesuffix("$") + r"\Z", error="YYYY-MM, from 1970-01 to 2999-12")

try:
    CHINA = ZoneInfo("Asia/Shanghai")
except ZoneInfoNotFoundError:  # a host without a tz database: China has kept UTC+8 without DST since 1991
    CHINA = dt.timezone(dt.timedelta(hours=8), "CST")


def this_month() -> str:
    return dt.datetime.now(CHINA).strftime("%Y-%m")


def month_span(month: str) -> tuple[dt.datetime, dt.datetime]:
    """A YYYY-MM month of China time as its [start, end) in UTC, the time the database keeps."""
    year, number = int(month[:4]), int(month[5:7])
    start = dt.datetime(year, number, 1, tzinfo=CHINA)
    end = dt.datetime(year + number // 12, number % 12 + 1, 1, tzinfo=CHINA)
    return start.astimezone(dt.timezone.utc), end.astimezone(dt.timezone.utc)
