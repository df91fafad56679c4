"""pyxform's errors and warnings, located by sheet and row and readable in Chinese as well as English.

pyxform writes English sentences that start with "[row : N]" and often name the sheet ("On the 'survey'
sheet"). An admin who knows Excel but not XML needs the sheet and row to find the cell, and the sentence in
Chinese. The common sentences are translated, with pyxform's own sentence kept as the detail; any other keeps its
English text behind a Chinese lead-in.
"""
from __future__ import annotations

import dataclasses
import re
from typing import Any

_ROW = re.compile(r"^\s*\[row\s*:\s*(\d+)\]\s*")
_SHEET = re.compile(r"[Oo]n the '([\w-]+)' sheet|[Ii]n the '([\w-]+)' sheet|the '([\w-]+)' sheet")

# (pattern on the English text without the row prefix, Chinese template using the pattern's groups)
_TRANSLATIONS: list[tuple[re.Pattern[str], str]] = [
    (re.compile(r"Unknown question type '(.+?)'"), "未知的题型“{0}”。"),
    (re.compile(r"the '(\w+)' value is invalid\. Reference variables must contain a name from the 'survey' "
                r"sheet\. Could not find the name '(.+?)'"),
     "“{0}”列引用了不存在的题目名“{1}”：${{}} 中的名字必须是 survey 表中的题目名。"),
    (re.compile(r"the 'name' value '(.+?)' is invalid\. Questions, groups, and repeats must be unique"),
     "题目名“{0}”重复：同一组（或整张表）内题目、组和重复组的名字必须唯一。"),
    (re.compile(r"Unmatched '(begin_group|begin_repeat|end_group|end_repeat)'.*?name '(.+?)'"),
     "“{0}”没有配对（名字“{1}”）：每个 begin group/repeat 都需要一个对应的 end group/repeat。"),
    (re.compile(r"There should be a choices sheet in this xlsform"),
     "缺少 choices 工作表：使用选择题时需要 choices 表，并包含 list_name、name、label 三列。"),
    (re.compile(r"List name not in choices sheet: (.+)"), "choices 表中没有名为“{0}”的选项列表。"),
    (re.compile(r"Question or group with no name"), "有题目或组没有填写 name（题目名）。"),
    (re.compile(r"Invalid question name '(.+?)'"), "题目名“{0}”无效：只能用字母、数字、下划线，且不能以数字开头。"),
    (re.compile(r"The survey sheet is either empty or missing important column headers"),
     "survey 工作表为空或缺少必需的列（type、name、label）。"),
    (re.compile(r"does not have a label"), "题目缺少标签（label）。"),
    (re.compile(r"Unknown language"), "标签列中的语言未在其它列中出现。"),
    (re.compile(r"not recognized as a supported type"),
     "无法读取这个文件：它不是 Excel 表格（.xlsx），可能是改了扩展名的其它文件，或文件已损坏。请在 Excel 或 WPS 中打开 XLSForm，"
     "另存为 .xlsx 后重新上传。"),
]
#: what any file that pyxform cannot read at all gets (openpyxl's and pyxform's parsing errors)
UNREADABLE_ZH = ("无法读取这个文件：它不是有效的 XLSForm 表格，或文件已损坏。请在 Excel 或 WPS 中打开，另存为 .xlsx 后重新"
                 "上传。")


@dataclasses.dataclass(frozen=True)
class FormMessage:
    #: worksheet the message is about (survey, choices, settings, entities), when known
    sheet: str | None
    #: spreadsheet row number as the admin sees it in Excel, when known
    row: int | None
    message_zh: str
    message_en: str
    #: pyxform's own sentence, when the messages above are ours
    detail: str | None = None

    def to_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)


def locate(text: str, context: dict[str, Any] | None = None) -> FormMessage:
    context = context or {}
    row = context.get("row")
    sheet = context.get("sheet")
    body = text
    match = _ROW.match(text)
    if match:
        row = row or int(match.group(1))
        body = text[match.end():]
    if sheet is None:
        sheet_match = _SHEET.search(body)
        if sheet_match:
            sheet = next(g for g in sheet_match.groups() if g)
        elif row is not None:
            sheet = "survey"  # pyxform only numbers rows without naming a sheet for the survey sheet
    translated = _chinese(body)
    return FormMessage(sheet=sheet, row=row, message_zh=_lead_in(sheet, row) + (translated or _untranslated(body)),
                       message_en=body.strip(), detail=body.strip() if translated else None)


def _lead_in(sheet: str | None, row: int | None) -> str:
    if sheet and row:
        return f"{sheet} 表第 {row} 行："
    if sheet:
        return f"{sheet} 表："
    if row:
        return f"第 {row} 行："
    return ""


def _chinese(body: str) -> str | None:
    for pattern, template in _TRANSLATIONS:
        found = pattern.search(body)
        if found:
            return template.format(*found.groups())
    return None


def _untranslated(body: str) -> str:
    return f"XLSForm 有误（原文）：{body.strip()}"


def unreadable(error: Exception) -> FormMessage:
    """A file nothing could read: said in Chinese, the reader's own sentence kept as the detail."""
    return FormMessage(None, None, UNREADABLE_ZH, f"This file could not be read as an XLSForm: {error}",
                       detail=str(error))
