"""What every export shares: how many rows it fetches at a time, China time, Chinese names of states."""
from __future__ import annotations

import datetime as dt
from typing import Any, Callable, Iterator, Sequence

from server.exports.stream import CsvTable, Sink
from server.params import CHINA

#: rows fetched per round trip (a server-side cursor on PostgreSQL)
BATCH = 500
REVIEW_STATES_ZH = {"received": "已接收", "has_issues": "有问题", "approved": "已通过", "rejected": "未通过"}
VERDICTS_ZH = {"verified": "已核实", "questionable": "存疑", "no_evidence": "无佐证"}


def china_time(value: dt.datetime) -> str:
    """A stored time (naive UTC) as China time, to the second."""
    if value.tzinfo is None:
        value = value.replace(tzinfo=dt.timezone.utc)
    return value.astimezone(CHINA).strftime("%Y-%m-%d %H:%M:%S")


def paged_csv(headers: list[str], fetch: Callable[[int, int], Sequence[Any]],
              cells: Callable[[Any], list[str]]) -> Iterator[bytes]:
    """A list's rows as CSV in the list's own order, fetched BATCH at a time (`fetch(limit, offset)`) and handed on
    as they are written, so that a city's 100,000 rows stream in flat memory."""
    sink = Sink()
    table = CsvTable(sink, headers)
    yield sink.drain()
    offset = 0
    while True:
        items = fetch(BATCH, offset)
        for item in items:
            table.row(cells(item))
        yield sink.drain()
        if len(items) < BATCH:
            return
        offset += BATCH
