"""What every export shares: how many rows it fetches at a time, China time, Chinese names of states."""
from __future__ import annotations

import datetime as dt

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
