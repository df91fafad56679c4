"""The monthly report (sync/report.py) as a workbook: a sheet per table, Chinese headings, a subtotal per town
and a total in bold, widths from the headings, A4 landscape, the header row frozen; a first sheet says what
it covers and how it was counted. Small (a row per village), so it is made whole and then sent."""
from __future__ import annotations

import datetime as dt
from typing import Iterator

from server.exports.common import china_time
from server.exports.stream import Workbook
from sync.report import MonthlyReport


def monthly_xlsx(report: MonthlyReport) -> Iterator[bytes]:
    book = Workbook()
    with book.sheet("说明", ["项目", "内容"]) as sheet:
        sheet.row(["月份", report.month])
        sheet.row(["区域", report.area_name or "全部"])
        sheet.row(["生成时间", china_time(dt.datetime.now(dt.timezone.utc))])
        for table in report.tables:
            if table.note:
                sheet.row([table.title, table.note])
    for table in report.tables:
        with book.sheet(table.title, ["乡镇", "村", *table.headers], [False, False] + [True] * len(table.headers)) \
                as sheet:
            for row in table.rows:
                sheet.row([row.town, row.village, *row.values], style=0 if row.kind == "village" else 1)
        yield book.drain()
    yield book.close()
