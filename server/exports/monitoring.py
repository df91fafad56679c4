"""The monitoring cases (防止返贫监测台账) as CSV, with the list's filters: one row per case, newest proposal first,
fetched a batch at a time, for the county to report upward and check in Excel."""
from __future__ import annotations

import datetime as dt
from typing import Any, Iterator

from sqlalchemy.orm import Session

from server.exports.common import china_time, paged_csv
from sync.monitoring import RISKS, STATES
from sync.monitoring_cases import list_cases

HEADERS = ["户编号", "户主", "村", "户状态", "监测对象类型", "类型来源", "风险类型", "状态", "提议时间", "提议于提交",
           "纳入时间", "纳入人", "结束时间", "结束决定人", "最近决定理由", "帮扶责任人", "措施次数", "最近措施时间"]


def monitoring_csv(session: Session, scope: Any, filters: dict[str, Any]) -> Iterator[bytes]:
    return paged_csv(HEADERS, lambda limit, offset: list_cases(session, scope, limit=limit, offset=offset,
                                                               **filters).items, _cells)


def _cells(row) -> list[str]:
    case = row.case
    decided = case.subtype is not None
    # a proposal shows what the evidence suggests; from 纳入 on, what was decided
    risks = case.risks if decided else case.suggested_risks
    measures = case.measures or []
    taken = [dt.datetime.fromisoformat(m["at"]) for m in measures if m.get("at")]
    last_measure = china_time(max(taken)) if taken else ""
    return [row.household, row.head_name, row.village, row.status, case.subtype or case.suggested_subtype,
            "纳入决定" if decided else "证据建议", "、".join(RISKS[r][0] if r in RISKS else r for r in risks or []),
            STATES[case.state][0], china_time(case.proposed_at), case.source_instance_id,
            china_time(case.identified_at) if case.identified_at else "", case.identified_by or "",
            china_time(case.ended_at) if case.ended_at else "", case.ended_by or "", case.reason or "",
            case.cadre or "", str(len(measures)), last_measure]
