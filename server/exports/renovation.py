"""The renovation ledger (危房改造台账) as CSV, with the list's filters: one row per C/D house, by deadline, fetched a
batch at a time. No ID number: the ledger holds none."""
from __future__ import annotations

from typing import Any, Iterator

from sqlalchemy.orm import Session

from server.exports.common import paged_csv
from sync.renovation import GROUPS, MODES, STAGES
from sync.renovation_ledger import list_renovations

HEADERS = ["户编号", "户主", "村", "危房等级", "鉴定日期", "鉴定提交", "改造方式", "四类重点对象", "面积（平方米）",
           "补助标准（元）", "补助年度", "已拨付（元）", "拨付日期", "开工", "竣工", "入住", "旧房处置", "入住期限", "进度"]


def _day(value) -> str:
    return value.isoformat() if value else ""


def renovation_csv(session: Session, scope: Any, filters: dict[str, Any]) -> Iterator[bytes]:
    return paged_csv(HEADERS, lambda limit, offset: list_renovations(session, scope, limit=limit, offset=offset,
                                                                     **filters).items, _cells)


def _cells(row) -> list[str]:
    r = row.renovation
    mode = MODES[r.mode][0] if r.mode in MODES else ""
    return [row.household, row.head_name, row.village, r.grade, _day(r.graded_on), r.assessment_instance_id,
            f"{mode}：{r.mode_other}" if r.mode_other else mode,
            "、".join(GROUPS[g][0] for g in r.groups if g in GROUPS),
            "" if r.floor_area is None else f"{r.floor_area:g}", "" if r.subsidy is None else f"{r.subsidy:g}",
            str(r.subsidy_year), f"{r.paid_amount:g}", _day(r.paid_on), _day(r.started_on), _day(r.finished_on),
            _day(r.moved_in_on), _day(r.old_dealt_on), _day(r.deadline), STAGES[r.stage][0]]
