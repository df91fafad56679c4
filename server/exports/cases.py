"""The problem cases (问题清单) as CSV, with the list's filters: one row per case, oldest first, fetched a batch at a
time so that a city's 100,000 cases stream in flat memory."""
from __future__ import annotations

from typing import Any, Iterator

from sqlalchemy.orm import Session

from server.exports.common import china_time, paged_csv
from sync.case_lists import list_cases
from sync.cases import KINDS

STATES_ZH = {"open": "待解决", "reopened": "再次发现", "closed": "已解决", "signed_off": "已销号"}
HEADERS = ["户编号", "户主", "村", "问题类型", "对象", "状态", "发现时间", "发现于提交", "解决或销号时间",
           "解决于提交", "帮扶责任人", "措施次数", "最近措施时间"]


def cases_csv(session: Session, scope: Any, filters: dict[str, Any]) -> Iterator[bytes]:
    return paged_csv(HEADERS, lambda limit, offset: list_cases(session, scope, limit=limit, offset=offset,
                                                               **filters).items, _cells)


def _cells(row) -> list[str]:
    case = row.case
    return [row.household, row.head_name, row.village, KINDS[case.kind][0], case.subject, STATES_ZH[case.state],
            china_time(case.opened_at), case.source_instance_id,
            china_time(case.closed_at) if case.closed_at else "", case.closing_instance_id or "", case.cadre or "",
            str(sum(1 for step in case.history if step["event"] == "measure")),
            china_time(case.last_measure_at) if case.last_measure_at else ""]
