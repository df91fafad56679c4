"""Reading the tables admins keep in Excel: CSV (UTF-8 or GB18030, as Excel in China saves it) or XLSX.

Each row comes back as a dict keyed by the canonical (English) column name, with the spreadsheet row number
so that every error can say where to look.
"""
from __future__ import annotations

import csv
import dataclasses
import io
from typing import Any

from openpyxl import load_workbook

from server.errors import DomainError


@dataclasses.dataclass(frozen=True)
class Row:
    #: row number as Excel shows it (the header is row 1)
    number: int
    values: dict[str, str]


def read_table(content: bytes, filename: str, headers: dict[str, str],
               optional: frozenset[str] = frozenset()) -> list[Row]:
    """`headers` maps every accepted header (Chinese and English) to its canonical name; a file may leave out the
    columns named in `optional` (canonical names)."""
    if filename.lower().endswith((".xlsx", ".xlsm")):
        raw = _xlsx_rows(content)
    elif filename.lower().endswith(".csv"):
        raw = list(csv.reader(io.StringIO(_decode(content))))
    else:
        raise DomainError("invalid", "table.type", "只接受 .csv 或 .xlsx 文件。", "Only .csv or .xlsx files are accepted.")
    if not raw:
        raise DomainError("invalid", "table.empty", "文件是空的。", "The file is empty.")
    header = [headers.get(_clean(h)) for h in raw[0]]
    missing = sorted(set(headers.values()) - set(header) - optional)
    if missing:
        names = {canonical: [h for h, c in headers.items() if c == canonical][0] for canonical in missing}
        listed = "、".join(names[m] for m in missing)
        raise DomainError("invalid", "table.columns_missing", f"缺少列：{listed}", f"Missing columns: {', '.join(missing)}",
                          details={"missing": missing})
    rows = []
    for index, cells in enumerate(raw[1:], start=2):
        values = {name: _clean(cell) for name, cell in zip(header, cells) if name}
        if any(values.values()):
            rows.append(Row(index, values))
    return rows


def _decode(content: bytes) -> str:
    for encoding in ("utf-8-sig", "gb18030"):
        try:
            return content.decode(encoding)
        except UnicodeDecodeError:
            continue
    raise DomainError("invalid", "table.encoding", "无法识别文件编码，请另存为 UTF-8 CSV 或 XLSX。",
                      "The file's encoding is not recognised; save it as UTF-8 CSV or XLSX.")


def _xlsx_rows(content: bytes) -> list[list[Any]]:
    try:
        workbook = load_workbook(io.BytesIO(content), read_only=True, data_only=True)
    except Exception as exc:
        raise DomainError("invalid", "table.unreadable", f"无法读取这个 Excel 文件：{exc}",
                          f"This Excel file could not be read: {exc}") from None
    sheet = workbook.worksheets[0]
    return [list(row) for row in sheet.iter_rows(values_only=True)]


def _clean(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, float) and value.is_integer():
        value = int(value)
    return str(value).strip()
