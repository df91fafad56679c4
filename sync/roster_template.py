"""The roster template (建档立卡名单模板) admins download: an XLSX whose first sheet has the roster's headers and a
sample row, and a second sheet that explains each column.

Everything is read from the import itself (sync/roster.py): the headers and their order from its column names, what
a column requires from its row schema (required or not, and the Chinese half of each validator's message), and the
sample row from the sample roster (sync/samples/roster.csv). A column added to the import appears here without a
change, and the sample row imports cleanly into the sample district (a test downloads it and imports it).
"""
from __future__ import annotations

import csv
import io
from pathlib import Path

from marshmallow import ValidationError, validate
from openpyxl import Workbook
from openpyxl.styles import Alignment, Font, PatternFill

from sync.roster import COLUMN_ZH, HEADERS, RosterRowSchema

SAMPLE = Path(__file__).resolve().parent / "samples" / "roster.csv"
FILENAME = "建档立卡名单模板.xlsx"
#: Excel's text format: household and ID numbers stay text (not 2.1e+15, nor an ID number losing its X)
TEXT = "@"
HEADER_FILL = PatternFill("solid", fgColor="FDE2E2")


def _english(key: str) -> str:
    return next((header for header, canonical in HEADERS.items() if canonical == key and header.isascii()), key)


def _zh(message: str) -> str:
    """The Chinese half of a bilingual message ("应为 男 或 女 / must be 男 or 女"), or "" for an English-only one."""
    first = message.split(" / ")[0].strip()
    return first if not first.isascii() else ""


#: a value no column accepts as it stands: what the import says about it is what the column requires
PROBE = "?"


def column_notes(schema: RosterRowSchema, key: str) -> list[str]:
    """What a value of this column must be, in the import's own words: required or not, the Chinese half of the
    message a wrong value gets and of its validators' messages, or its length limit."""
    field = schema.fields[key]
    notes = ["必填" if field.required else "可空"]
    try:
        schema.load({key: PROBE}, partial=True)
    except ValidationError as refused:
        messages = refused.messages.get(key, []) if isinstance(refused.messages, dict) else []
        notes.extend(_zh(str(message)) for message in messages if _zh(str(message)))
    for check in field.validators:  # the checks a probe does not reach (a range, a length)
        if _zh(str(getattr(check, "error", None) or "")):
            notes.append(_zh(str(check.error)))
        elif isinstance(check, validate.Length) and check.max is not None:
            notes.append(f"最多 {check.max} 个字")
    return list(dict.fromkeys(notes))


def sample_row() -> dict[str, str]:
    """The sample roster's first row (a head of household), by column key."""
    with open(SAMPLE, encoding="utf-8-sig", newline="") as source:
        first = next(csv.DictReader(source))
    return {HEADERS[header]: value for header, value in first.items() if header in HEADERS}


def roster_template() -> bytes:
    schema = RosterRowSchema()
    keys = list(COLUMN_ZH)
    sample = sample_row()
    book = Workbook()
    sheet = book.active
    sheet.title = "名单"
    sheet.append([COLUMN_ZH[key] for key in keys])
    sheet.append([sample.get(key, "") for key in keys])
    for index, key in enumerate(keys, start=1):
        header = sheet.cell(row=1, column=index)
        header.font, header.fill = Font(bold=True), HEADER_FILL
        sheet.cell(row=2, column=index).number_format = TEXT
        sheet.column_dimensions[header.column_letter].width = max(10, 2 * len(COLUMN_ZH[key]) + 2)
    sheet.freeze_panes = "A2"

    notes = book.create_sheet("填写说明")
    notes.append(["列名", "英文列名（也可使用）", "填写要求"])
    for key in keys:
        notes.append([COLUMN_ZH[key], _english(key), "；".join(column_notes(schema, key))])
    notes.append([])
    for line in ("每人一行；同一户的各行户编号相同，且只有一行的与户主关系为“户主”。",
                 "第一张表的第 2 行是示例，导入前请删除或改为真实数据。",
                 "所有行先检查，有任何错误则整个文件都不导入；重复导入同一文件不会改变数据。"):
        notes.append([line])
    for cell in notes[1]:
        cell.font, cell.fill = Font(bold=True), HEADER_FILL
    for letter, width in (("A", 30), ("B", 22), ("C", 70)):
        notes.column_dimensions[letter].width = width
    for row in notes.iter_rows(min_row=2):
        row[-1].alignment = Alignment(wrap_text=True, vertical="top")

    out = io.BytesIO()
    book.save(out)
    return out.getvalue()
