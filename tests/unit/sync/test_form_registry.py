"""Adding a form is one module: a FormDefinition the registry holds is read and folded with no other change
(issue 13's trial of a fourth form). The definition here stands for a casework form's module."""
from __future__ import annotations

import datetime as dt

from sync import forms
from sync.facts import read_fact
from sync.fold import Baseline, fold
from sync.forms.base import Detail, Field, FormDefinition, Text, keep_every, put
from sync.rules import load_rules
from sync.values import YES_NO

NOW = dt.datetime(2026, 11, 30, 12, tzinfo=dt.timezone.utc)


def _read(read, _root):
    fields = {}
    put(fields, "risk_confirmed", read.choice("risk/confirmed", YES_NO))
    return fields, {"risk_type": read.text("risk/risk_type"), "note": read.text("note")}, []


MONITORING = FormDefinition(
    form_id="monitoring_case", xlsform="monitoring_case.xlsx", title=Text("监测对象识别", "Monitoring case"),
    date_question="case_date", paths=frozenset({"risk/confirmed", "risk/risk_type", "note"}), read=_read,
    fields={"risk_confirmed": Field(Text("风险已核实", "Risk confirmed"))}, entity_columns=(), collection=None,
    keep=keep_every, summary=lambda record: {"risk_type": record.get("risk_type")}, photo_roles={},
    details=(Detail("risk_type", Text("风险类型", "Risk type")),))

XML = ('<data id="monitoring_case" version="1"><start>2026-11-20T10:00:00+08:00</start>'
       '<end>2026-11-20T10:30:00+08:00</end><case_date>2026-11-20</case_date><household>H1</household>'
       '<risk><confirmed>yes</confirmed><risk_type>因病</risk_type></risk><note>住院</note>'
       '<meta><instanceID>uuid:m1</instanceID></meta></data>').encode()


def test_a_registered_form_is_read_and_folded_into_the_household_file(monkeypatch):
    monkeypatch.setitem(forms.DEFINITIONS, MONITORING.form_id, MONITORING)
    fact = read_fact(XML, NOW)
    assert fact.fields == {"risk_confirmed": "yes"} and fact.record["risk_type"] == "因病"
    record = fold(Baseline("H1", "监测户", []), [fact], [], load_rules(), NOW.date())
    assert record.fields["risk_confirmed"]["value"] == "yes"
    assert record.fields["risk_confirmed"]["instance_id"] == "uuid:m1"  # 数出有源
    [event] = [e for e in record.events if e["kind"] == "monitoring_case"]
    assert event["summary"] == {"risk_type": "因病"} and event["record"]["note"] == "住院"


def test_an_unregistered_form_still_reaches_the_file_as_an_event():
    fact = read_fact(XML, NOW)
    assert fact.fields == {} and fact.record == {}
    record = fold(Baseline("H1", "监测户", []), [fact], [], load_rules(), NOW.date())
    assert [e["kind"] for e in record.events] == ["monitoring_case"]
