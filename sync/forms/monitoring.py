"""监测对象识别/帮扶 monitoring_report: a cadre at the door reports a household at risk (防止返贫监测): the risk types,
the subtype suggested, the situation, an estimate of the family's income, the measures taken or proposed.

Its submission proposes a monitoring case, or, for a household whose case is 纳入, adds its measures to it
(sync/monitoring.py; DOMAIN.md "Precisions" line 91: subtypes are kept, a case goes 识别/纳入 → 帮扶措施 → 风险消除).
It sets one household field, the day of the latest report; the record keeps the report on its timeline (no collection:
its photo and GPS are shown there, not judged as evidence, which is judged of the collections' entries).
forms/README.md describes the questions.
"""
from __future__ import annotations

from xml.etree.ElementTree import Element

from sync.forms.base import Detail, Evidence, Field, FormDefinition, Reading, Text, keep_every, put
from sync.rules import EDGE_POOR, SUDDEN_HARDSHIP, UNSTABLE_EXITED
from sync.values import MAX_YUAN, Reader

FORM_ID = "monitoring_report"
#: 风险类型 codes (labels in sync.monitoring.RISKS)
RISK_CODES = ("illness", "disability", "schooling", "disaster", "accident", "epidemic", "industry", "employment",
              "other")
#: the form's subtype codes → the subtype as the roster names it (DOMAIN.md line 91: kept, not folded)
SUBTYPE_CODES = {"unstable": UNSTABLE_EXITED, "edge": EDGE_POOR, "sudden": SUDDEN_HARDSHIP}
#: 帮扶措施 codes: the visit form's (sync.forms.visit.HELP)
MEASURE_CODES = ("job", "aid", "housing", "industry", "policy", "other")

FIELDS = {"monitoring_reported": Field(Text("最近监测填报日期", "Last monitoring report"))}

PATHS = frozenset({"report_date", "gps", "photo", "risk/risks", "risk/risk_other", "risk/subtype",
                   "risk/situation", "risk/income_estimate", "help/measures", "help/measures_note"})


def read(read: Reader, _root: Element) -> Reading:
    subtype = read.choice("risk/subtype", tuple(SUBTYPE_CODES))
    fields: dict = {}
    day = read.date("report_date")
    put(fields, "monitoring_reported", day)
    record = {
        "date": day, "gps": read.gps("gps"),
        "risks": read.choices("risk/risks", RISK_CODES), "risk_other": read.text("risk/risk_other"),
        "subtype": SUBTYPE_CODES.get(subtype or ""), "situation": read.text("risk/situation"),
        "income_estimate": read.number("risk/income_estimate", 0, MAX_YUAN),
        "measures": read.choices("help/measures", MEASURE_CODES), "measures_note": read.text("help/measures_note"),
        "photos": {"photo": read.text("photo")},
    }
    return fields, record, []


DEFINITION = FormDefinition(
    form_id=FORM_ID, xlsform="monitoring_report.xlsx", title=Text("监测对象识别/帮扶", "Monitoring report"),
    date_question="report_date", paths=PATHS, read=read, fields=FIELDS, entity_columns=(), collection=None,
    keep=keep_every,
    summary=lambda record: {"date": record.get("date"), "risks": record.get("risks", []),
                            "subtype": record.get("subtype")},
    photo_roles={"photo": Text("现场照片", "Photo on the spot")},
    details=(
        Detail("date", Text("填报日期", "Report date")),
        Detail("risks", Text("风险类型", "Risk types"), show="choice", path="risk/risks"),
        Detail("risk_other", Text("其他风险", "Other risk")),
        Detail("subtype", Text("建议监测对象类型", "Suggested monitoring subtype")),
        Detail("situation", Text("风险情况说明", "The situation")),
        Detail("income_estimate", Text("估算人均纯收入", "Estimated per-capita income"), show="money"),
        Detail("measures", Text("帮扶措施", "Measures"), show="choice", path="help/measures"),
        Detail("measures_note", Text("措施说明", "About the measures")),
        Detail("gps", Text("定位", "Location"), show="gps"),
    ),
    evidence=Evidence(photos={"photo": Text("现场照片", "photo on the spot")}, required=()),
)
