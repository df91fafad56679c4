"""Monitoring cases (防止返贫监测) through the API: a visit's flags and problems propose a case, a supervisor decides
纳入 / 不纳入 / 风险消除, measures come from visits and by hand, each step in order, each refusal with its status, and
every read and write in the caller's areas.

DOMAIN.md "Precisions", line 91: "An exited household near the line is 脱贫不稳定户, never 边缘易致贫户. A monitoring
case goes 识别/纳入 → 帮扶措施 → 风险消除, each a dated decision by someone. A 三保障 or water gap in an exited household
is a risk (致贫返贫风险), not only low income."
"""
import csv
import dataclasses
import datetime as dt
import importlib
import io

import pytest
from sqlalchemy import select, update

from server.db import session_scope
from server.models import AuditEntry
from support import Collect, income_xml, monitoring_xml, visit_xml
from sync.jobs import queue_refolds
from sync.models import Household
from sync.monitoring import case_key
from sync.monitoring_models import MonitoringDecision
from sync.records import HouseholdRecord

HH = "2105040010010073"        # village 1 (town 1), 已脱贫, paired with cadre001
OTHER = "2105040020010003"     # town 2, 已脱贫: outside town1's areas
CHINA = dt.timezone(dt.timedelta(hours=8))


def soon(minutes: int = 1) -> str:
    """A form filled just now (after the decisions made so far)."""
    return (dt.datetime.now(CHINA) + dt.timedelta(minutes=minutes)).replace(microsecond=0).isoformat()


@pytest.fixture
def proposals(client, sample_district, admin, reconcile):
    phone = Collect(client, admin)
    for xml in (visit_xml(HH, instance_id="uuid:v1", water="no", problems="illness",
                          end="2026-11-02T10:00:00+08:00"),
                visit_xml(OTHER, instance_id="uuid:o1", problems="illness disaster",
                          end="2026-11-03T10:00:00+08:00")):
        assert phone.submit(xml).status_code == 201
    reconcile()
    return sample_district


def decide(client, headers, key, **body):
    return client.post(f"/api/v1/monitoring/{key}/decisions", json=body, headers=headers)


def measure(client, headers, key, **body):
    return client.post(f"/api/v1/monitoring/{key}/measures", json=body, headers=headers)


KEY = case_key(HH, "uuid:v1")
OTHER_KEY = case_key(OTHER, "uuid:o1")


def test_a_visit_proposes_a_case_with_its_evidence_in_the_callers_areas(client, proposals):
    town1 = proposals["town1"]
    listed = client.get("/api/v1/monitoring", headers=town1).get_json()
    assert [row["household"] for row in listed["items"]] == [HH]
    assert listed["counts"]["proposed"] == 1 and listed["counts"]["identified"] == 0
    case = client.get(f"/api/v1/monitoring/{KEY}", headers=town1).get_json()
    assert (case["state"], case["suggested_subtype"], case["suggested_risks"]) == ("proposed", "脱贫不稳定户",
                                                                                 ["illness"])
    evidence = case["evidence"][0]
    assert evidence["instance_id"] == "uuid:v1" and evidence["flags"] == ["risk_water"]
    assert evidence["problems"] == ["illness"]
    # filters
    assert client.get("/api/v1/monitoring?risk=illness", headers=town1).get_json()["total"] == 1
    assert client.get("/api/v1/monitoring?risk=disaster", headers=town1).get_json()["total"] == 0
    assert client.get("/api/v1/monitoring?subtype=边缘易致贫户", headers=town1).get_json()["total"] == 0
    assert client.get("/api/v1/monitoring?state=identified", headers=town1).get_json()["total"] == 0
    assert client.get("/api/v1/monitoring?area=210504001001", headers=town1).get_json()["total"] == 1


def test_another_areas_case_is_not_found_on_reads_and_writes(client, proposals):
    town1, cadre2 = proposals["town1"], proposals["cadre2"]
    assert client.get(f"/api/v1/monitoring/{OTHER_KEY}", headers=town1).status_code == 404
    assert decide(client, town1, OTHER_KEY, kind="dismiss", text="无风险").status_code == 404
    assert measure(client, town1, OTHER_KEY, text="介绍工作").status_code == 404
    # village 2's cadre does not see village 1's case
    assert client.get(f"/api/v1/monitoring/{KEY}", headers=cadre2).status_code == 404
    assert measure(client, cadre2, KEY, text="介绍工作").status_code == 404


def test_a_cadre_may_not_decide(client, proposals):
    response = decide(client, proposals["cadre1"], KEY, kind="include", subtype="脱贫不稳定户", risks=["illness"],
                      text="纳入")
    assert response.status_code == 403
    assert response.get_json()["code"] == "monitoring.not_allowed"


def test_steps_out_of_order_and_a_wrong_subtype_are_refused(client, proposals):
    town1 = proposals["town1"]
    response = decide(client, town1, KEY, kind="remove", text="已消除")
    assert response.status_code == 409 and response.get_json()["code"] == "monitoring.out_of_order"
    assert measure(client, town1, KEY, text="介绍工作").status_code == 409
    # DOMAIN.md line 91: an exited household is never 边缘易致贫户
    response = decide(client, town1, KEY, kind="include", subtype="边缘易致贫户", risks=["illness"], text="纳入")
    assert response.status_code == 400 and response.get_json()["code"] == "monitoring.subtype"
    assert decide(client, town1, KEY, kind="include", subtype="脱贫不稳定户", risks=[], text="纳入").status_code == 400
    assert decide(client, town1, KEY, kind="include", subtype="脱贫不稳定户", risks=["illness"],
                  text="").status_code == 400
    ok = decide(client, town1, KEY, kind="include", subtype="脱贫不稳定户", risks=["illness"], text="因病")
    assert ok.status_code == 200
    assert decide(client, town1, KEY, kind="dismiss", text="无风险").status_code == 409
    assert decide(client, town1, KEY, kind="include", subtype="脱贫不稳定户", risks=["illness"],
                  text="再纳入").status_code == 409


def test_identify_measures_and_remove_the_risk(app, client, proposals, admin, reconcile):
    town1, cadre1 = proposals["town1"], proposals["cadre1"]
    rt = app.extensions["zoufang"]
    # the rules' six months after 纳入 would make this test wait: this county asks for none
    rules = dataclasses.replace(rt.queue.rules, monitoring={**rt.queue.rules.monitoring, "min_months": 0})
    rt.queue = dataclasses.replace(rt.queue, rules=rules)

    case = decide(client, town1, KEY, kind="include", subtype="脱贫不稳定户", risks=["illness"],
                  text="因病，收入下降").get_json()
    assert (case["state"], case["subtype"], case["risks"], case["identified_by"]) == (
        "identified", "脱贫不稳定户", ["illness"], "town1")
    unmet = {c["code"] for c in case["conditions"] if not c["met"]}
    assert unmet == {"income", "no_problem", "measures"}
    response = decide(client, town1, KEY, kind="remove", text="已消除")
    assert response.status_code == 409
    assert response.get_json()["code"] == "monitoring.conditions_unmet"
    assert set(response.get_json()["details"]["unmet"]) == unmet
    assert "饮水" in response.get_json()["message_zh"] or "三保障" in response.get_json()["message_zh"]

    # the paired cadre enters a measure; a visit's help given is another
    case = measure(client, cadre1, KEY, text="联系医保报销", codes=["policy"]).get_json()
    assert case["state"] == "helped" and case["measures"][0]["by"] == "cadre001"
    phone = Collect(client, admin)
    assert phone.submit(visit_xml(HH, instance_id="uuid:v2", water="yes", help_given="job", end=soon(),
                                  base_version=2)).status_code == 201
    assert phone.submit(income_xml(HH, year=2026, wage=20000, instance_id="uuid:i1", end=soon(2),
                                   base_version=3)).status_code == 201
    reconcile()
    case = client.get(f"/api/v1/monitoring/{KEY}", headers=town1).get_json()
    assert [m["source"] for m in case["measures"]] == ["entry", "submission"]
    assert all(c["met"] for c in case["conditions"]), case["conditions"]

    assert decide(client, cadre1, KEY, kind="remove", text="收入稳定").status_code == 403
    case = decide(client, town1, KEY, kind="remove", text="收入稳定，问题已解决").get_json()
    assert (case["state"], case["ended_by"], case["reason"]) == ("removed", "town1", "收入稳定，问题已解决")
    assert case["conditions"] == []
    assert measure(client, town1, KEY, text="太晚了").status_code == 409
    with session_scope(rt.sessions) as session:
        kinds = [d.kind for d in session.scalars(select(MonitoringDecision).order_by(MonitoringDecision.id))]
        assert kinds == ["include", "measure", "remove"]
        actions = list(session.scalars(select(AuditEntry.action).where(AuditEntry.action.like("monitoring.%"))))
        assert actions.count("monitoring.decision") == 2 and actions.count("monitoring.measure") == 1

    # a new risk after the case ended proposes a new case
    assert phone.submit(visit_xml(HH, instance_id="uuid:v3", problems="employment", end=soon(3),
                                  base_version=4)).status_code == 201
    reconcile()
    listed = client.get("/api/v1/monitoring?area=210504001001", headers=town1).get_json()
    assert [(row["key"], row["state"]) for row in listed["items"]] == [(case_key(HH, "uuid:v3"), "proposed"),
                                                                       (KEY, "removed")]


def csv_rows(response) -> list[list[str]]:
    text = response.get_data(as_text=True)
    assert text.startswith("\ufeff")  # Excel and WPS read it as UTF-8
    return list(csv.reader(io.StringIO(text[1:])))


def test_the_cases_export_as_csv_with_the_lists_filters_in_the_callers_areas(client, proposals, admin):
    town1 = proposals["town1"]
    answer = client.get("/api/v1/exports/monitoring.csv", headers=town1)
    assert answer.status_code == 200 and answer.mimetype == "text/csv"
    assert "attachment" in answer.headers["Content-Disposition"]
    header, *rows = csv_rows(answer)
    assert header[:8] == ["户编号", "户主", "村", "户状态", "监测对象类型", "类型来源", "风险类型", "状态"]
    assert [row[0] for row in rows] == [HH]   # OTHER is town 2's
    row = dict(zip(header, rows[0]))
    assert (row["监测对象类型"], row["类型来源"], row["风险类型"], row["状态"], row["提议于提交"]) == (
        "脱贫不稳定户", "证据建议", "因病", "提议", "uuid:v1")
    assert row["提议时间"] == "2026-11-02 10:00:00" and row["纳入时间"] == "" and row["措施次数"] == "0"

    decide(client, town1, KEY, kind="include", subtype="脱贫不稳定户", risks=["illness", "schooling"], text="因病因学")
    measure(client, town1, KEY, text="联系医保报销", codes=["policy"])
    header, *rows = csv_rows(client.get("/api/v1/exports/monitoring.csv?state=helped&risk=schooling", headers=town1))
    row = dict(zip(header, rows[0]))
    assert (row["类型来源"], row["风险类型"], row["状态"], row["纳入人"], row["最近决定理由"]) == (
        "纳入决定", "因病、因学", "帮扶中", "town1", "因病因学")
    assert row["措施次数"] == "1" and row["最近措施时间"].startswith("20")
    for empty in ("?state=proposed", "?risk=disaster", "?area=210504001002"):
        assert csv_rows(client.get("/api/v1/exports/monitoring.csv" + empty, headers=town1))[1:] == [], empty
    # the whole county for an admin; another area named by a supervisor is not theirs
    assert len(csv_rows(client.get("/api/v1/exports/monitoring.csv", headers=admin))) == 3
    assert client.get("/api/v1/exports/monitoring.csv?area=210504002", headers=town1).status_code == 404
    assert client.get("/api/v1/exports/monitoring.csv?state=nonsense", headers=town1).status_code == 400


def test_editing_the_proposing_visit_keeps_the_case_and_its_decisions(client, proposals, admin, reconcile):
    """The case is keyed by the proposing submission's first version: an edit of that visit (still a risk) is the
    same case, 纳入 stays decided; before, the edit's new instance id made a new proposal and stranded the decision."""
    town1 = proposals["town1"]
    assert decide(client, town1, KEY, kind="include", subtype="脱贫不稳定户", risks=["illness"],
                  text="因病").status_code == 200
    edit = visit_xml(HH, instance_id="uuid:v1-edit", deprecated_id="uuid:v1", water="no", problems="illness",
                     end="2026-11-02T10:00:00+08:00", base_version=None)
    assert Collect(client, admin).submit(edit).status_code == 201
    reconcile()
    listed = client.get("/api/v1/monitoring", headers=town1).get_json()
    assert [(row["key"], row["state"]) for row in listed["items"]] == [(KEY, "identified")]
    case = client.get(f"/api/v1/monitoring/{KEY}", headers=town1).get_json()
    assert case["source_instance_id"] == "uuid:v1-edit" and case["identified_by"] == "town1"
    assert [e["instance_id"] for e in case["evidence"]] == ["uuid:v1-edit"]


def test_dismissal_needs_a_reason_and_keeps_it(client, proposals):
    town1 = proposals["town1"]
    assert decide(client, town1, KEY, kind="dismiss").status_code == 400
    case = decide(client, town1, KEY, kind="dismiss", text="已核实，为临时困难").get_json()
    assert (case["state"], case["reason"], case["ended_by"]) == ("dismissed", "已核实，为临时困难", "town1")


def test_the_monitoring_report_sent_from_the_field_proposes_a_case_then_adds_measures(client, proposals, admin,
                                                                                      reconcile):
    """The fourth bundled form (监测对象识别/帮扶) over OpenRosa: a report proposes a case with the risks and the
    subtype the cadre suggested; once the case is 纳入, a report's measures are measures on it."""
    town1, cadre1 = proposals["town1"], proposals["cadre1"]
    hh7 = "2105040010010007"  # village 1, 已脱贫
    phone = Collect(client, cadre1)
    assert phone.submit(monitoring_xml(hh7, risks="disaster accident", subtype="unstable",
                                       instance_id="uuid:m1", end="2026-11-05T10:00:00+08:00")).status_code == 201
    reconcile()
    key = case_key(hh7, "uuid:m1")
    case = client.get(f"/api/v1/monitoring/{key}", headers=town1).get_json()
    assert (case["state"], case["suggested_subtype"], case["suggested_risks"]) == (
        "proposed", "脱贫不稳定户", ["disaster", "accident"])
    assert case["evidence"][0]["form"] == "monitoring_report"
    assert case["evidence"][0]["situation"] == "户主住院，家庭收入下降"
    assert decide(client, town1, key, kind="include", subtype="脱贫不稳定户", risks=["disaster"],
                  text="房屋受灾").status_code == 200
    assert phone.submit(monitoring_xml(hh7, risks="disaster", measures="aid housing", instance_id="uuid:m2",
                                       end=soon())).status_code == 201
    reconcile()
    case = client.get(f"/api/v1/monitoring/{key}", headers=town1).get_json()
    assert case["state"] == "helped"
    assert [(m["instance_id"], m["codes"]) for m in case["measures"]] == [("uuid:m2", ["aid", "housing"])]
    assert client.get("/api/v1/monitoring", headers=town1).get_json()["total"] == 2  # no second proposal


def test_an_admin_decides_in_every_area(client, proposals, admin):
    case = decide(client, admin, OTHER_KEY, kind="include", subtype="突发严重困难户", risks=["disaster"],
                  text="房屋受灾").get_json()
    assert (case["state"], case["subtype"], case["identified_by"]) == ("identified", "突发严重困难户", "admin")
    assert client.get("/api/v1/monitoring?state=identified", headers=admin).get_json()["total"] == 1


def test_migration_0029_moves_a_decision_filed_under_an_edits_key(app, client, proposals, admin, reconcile):
    """Before 0029 an edit of the proposing visit gave the case the edit's key, and a supervisor's decision was
    stored under it. The migration moves it to the first version's key and has the worker fold the record again."""
    rt = app.extensions["zoufang"]
    town1 = proposals["town1"]
    edit = visit_xml(HH, instance_id="uuid:v1-edit", deprecated_id="uuid:v1", water="no", problems="illness",
                     end="2026-11-02T10:00:00+08:00", base_version=None)
    assert Collect(client, admin).submit(edit).status_code == 201
    reconcile()
    assert decide(client, town1, KEY, kind="include", subtype="脱贫不稳定户", risks=["illness"],
                  text="因病").status_code == 200
    with session_scope(rt.sessions) as session:  # as the earlier code filed it
        session.execute(update(MonitoringDecision).values(case_key=case_key(HH, "uuid:v1-edit")))
    migration = importlib.import_module("server.migrations.versions.0029_monitoring_case_roots")
    with rt.engine.begin() as connection:
        assert migration.remap(connection) == 1
        assert migration.remap(connection) == 0  # once moved, nothing left to move
    with session_scope(rt.sessions) as session:
        assert session.scalars(select(MonitoringDecision.case_key)).all() == [KEY]
        assert session.scalar(select(HouseholdRecord.rules_digest).join(Household).where(Household.number == HH)) == ""
    assert queue_refolds(rt.sessions, rt.queue) == 1
    reconcile()
    case = client.get(f"/api/v1/monitoring/{KEY}", headers=town1).get_json()
    assert (case["state"], case["identified_by"]) == ("identified", "town1")
