"""新发现户报告 household_report: a household outside the roster reported from the field (应纳尽纳, DOMAIN.md
"Precisions": a cadre reports a household not on the list, a supervisor decides on it).

The form names no household number: its submissions are not about a registered household and are never folded
into one. The reconciler keeps each as an outside report (sync/outside_reports.py), which a supervisor registers
(纳入) or declines. forms/README.md describes the questions.
"""
from __future__ import annotations

from xml.etree.ElementTree import Element

from sync.forms.base import Detail, FormDefinition, Reading, Text
from sync.values import MAX_COUNT, MAX_YUAN, Reader

FORM_ID = "household_report"
#: the reasons a household is reported, as the form's choice codes (zh, en)
REASONS = {
    "near_line": Text("收入在监测范围附近的一般户", "Near the monitoring range"),
    "illness": Text("因病", "Illness"),
    "disability": Text("因残", "Disability"),
    "schooling": Text("因学", "Schooling costs"),
    "disaster": Text("因灾", "Disaster"),
    "accident": Text("因意外", "Accident"),
    "dropout": Text("有失学辍学儿童", "A child out of school"),
    "dangerous_house": Text("住房不安全（危房）", "Dangerous house"),
    "other": Text("其他", "Other"),
}

PATHS = frozenset({"report_date", "village_code", "village_name", "head_name", "id_number", "phone",
                   "household_size", "reasons", "reasons_other", "description", "income_per_capita", "gps",
                   "photo_house"})


def read(read: Reader, _root: Element) -> Reading:
    record = {
        "date": read.date("report_date"),
        "village_code": read.text("village_code", limit=32),
        "village_name": read.text("village_name", limit=100),
        "head_name": read.text("head_name", limit=100),
        "id_number": read.text("id_number", limit=32),
        "phone": read.text("phone", limit=20),
        "household_size": read.integer("household_size", 1, MAX_COUNT),
        "reasons": read.choices("reasons", tuple(REASONS)),
        "reasons_other": read.text("reasons_other"),
        "description": read.text("description"),
        "income_per_capita": read.number("income_per_capita", 0, MAX_YUAN),
        "gps": read.gps("gps"),
        "photos": {"photo_house": read.text("photo_house")},
    }
    return {}, record, []


DEFINITION = FormDefinition(
    form_id=FORM_ID, xlsform="household_report.xlsx", title=Text("新发现户报告", "Household outside the roster"),
    date_question="report_date", paths=PATHS, read=read, fields={}, entity_columns=(), collection=None,
    keep=lambda fact, at: None, summary=lambda record: {"head_name": record.get("head_name")},
    photo_roles={"photo_house": Text("房屋照片", "Photo of the house")},
    details=(Detail("head_name", Text("户主姓名", "Head of household")),
             Detail("reasons", Text("报告原因", "Reasons"), show="choice", path="reasons")),
    about_household=False,
)
