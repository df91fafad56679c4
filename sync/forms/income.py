"""家庭收入调查 income_survey: a year's household income and spending (DOMAIN.md, form 3).

The household keeps one survey per year, the newest of that year; its per-capita net income, computed here from
the parts (the form's own totals are only compared with it), is the household's income and the rules compare it
with the year's line. forms/README.md describes the questions.
"""
from __future__ import annotations

import datetime as dt
from typing import Any
from xml.etree.ElementTree import Element

from sync.forms.base import Detail, Evidence, Field, FormDefinition, Reading, Text
from sync.rules import net_income, per_capita
from sync.values import EARLIEST, MAX_COUNT, MAX_YUAN, Reader

FORM_ID = "income_survey"
#: 资产收益分红 is property income (财产性收入) as the statistics count it; before version 2026120601 the form asked
#: it among the transfers, where older submissions still carry it
INCOME_PARTS = ("income/wage_income", "income/business_gross", "income/business_cost", "income/property_income",
                "income/dividends", "transfer/dibao", "transfer/pension", "transfer/subsidies",
                "transfer/other_transfer")
FORMER_DIVIDENDS = "transfer/dividends"
SPENDING_PARTS = ("spending/spend_medical", "spending/spend_education", "spending/spend_disaster")

FIELDS = {
    "income_year": Field(Text("收入年度", "Income year")),
    "income_per_capita": Field(Text("人均纯收入", "Per-capita net income")),
}

PATHS = frozenset({"survey_date", "survey_year", "household_size", "size_note", "total_net",
                   "per_capita", "gps", "photo_ledger", "notes", *INCOME_PARTS, *SPENDING_PARTS})


def read(read: Reader, _root: Element) -> Reading:
    parts = {path.split("/")[1]: read.number(path, 0, MAX_YUAN) or 0.0 for path in INCOME_PARTS}
    if read.get(FORMER_DIVIDENDS) is not None:
        parts["dividends"] = read.number(FORMER_DIVIDENDS, 0, MAX_YUAN) or 0.0
    spending = {path.split("/")[1]: read.number(path, 0, MAX_YUAN) or 0.0 for path in SPENDING_PARTS}
    # the totals are the form's own calculations, and a business may run at a loss
    total_bound = MAX_YUAN * len(INCOME_PARTS)
    record = {
        "date": read.date("survey_date"),
        "year": read.integer("survey_year", EARLIEST.year, 2100),
        "household_size": read.integer("household_size", 1, MAX_COUNT), "size_note": read.text("size_note"),
        "parts": parts, "spending": spending,
        "reported_total_net": read.number("total_net", -total_bound, total_bound),
        "reported_per_capita": read.number("per_capita", -total_bound, total_bound), "gps": read.gps("gps"),
        "photos": {"photo_ledger": read.text("photo_ledger")},
        "notes": read.text("notes"),
    }
    return {}, record, []


def keep(fact, at: dt.datetime) -> tuple[int, dict[str, Any]] | None:
    """The year's survey, with the totals computed from its parts; a survey without a year is not kept."""
    record = fact.record
    if not record.get("year"):
        return None
    total = net_income(record["parts"])
    return record["year"], {
        **record, "instance_id": fact.instance_id, "total_net": total,
        "per_capita": per_capita(total, record.get("household_size")),
        "provenance": {"source": "submission", "instance_id": fact.instance_id, "form": fact.form, "by": fact.by,
                       "at": at.isoformat()}}


def derive(incomes: list[dict[str, Any]]) -> dict[str, dict[str, Any]]:
    """The household's income is the latest year's survey."""
    if not incomes:
        return {}
    latest = incomes[-1]
    return {"income_year": {"value": str(latest["year"]), **latest["provenance"]},
            "income_per_capita": {"value": latest["per_capita"], **latest["provenance"]}}


DEFINITION = FormDefinition(
    form_id=FORM_ID, xlsform="income_survey.xlsx", title=Text("家庭收入调查", "Household income survey"),
    date_question="survey_date", paths=PATHS, read=read, fields=FIELDS,
    entity_columns=("income_year", "income_per_capita"),
    collection="incomes", keep=keep, derive=derive,
    summary=lambda record: {"year": record.get("year")},
    photo_roles={"photo_ledger": Text("收入核算表", "Income sheet")},
    details=(
        Detail("year", FIELDS["income_year"].label),
        Detail("total_net", Text("家庭纯收入", "Household net income"), show="money"),
        Detail("per_capita", FIELDS["income_per_capita"].label, show="money"),
        Detail("household_size", Text("家庭人口", "Household size")),
    ),
    superseded=Text("同一年度有更新的调查，以更新的为准", "A newer survey of the same year replaces this one"),
    # judged as evidence too (GPS, when given, at the house; the sheet photographed on the survey's day)
    evidence=Evidence(photos={"photo_ledger": Text("收入核算表照片", "photo of the income sheet")}, required=()),
    former_paths=frozenset({FORMER_DIVIDENDS}),
)
