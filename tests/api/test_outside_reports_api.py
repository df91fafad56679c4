"""Households outside the roster (应纳尽纳) through OpenRosa and the API: a cadre's 新发现户报告 is kept as a report,
not as a submission about an unknown household; a supervisor of its area registers it (a new household on the roster
and in the devices' list) or declines it, once; a cadre may not decide; another area's report is 404.

DOMAIN.md "Precisions", line 95: "应纳尽纳 means households outside the roster: a cadre must be able to report a
household that is not on the list (e.g. 边缘易致贫户, a 一般户's dropout or dangerous house, 004) and a supervisor
decides on it"."""
import csv
import io

import pytest
from sqlalchemy import select

from server.db import session_scope
from server.models import AuditEntry
from support import Collect, jpeg, report_xml
from sync.models import Household, Submission
from sync.outside_models import OutsideReport
from sync.rebuild import rebuild

GOOD_ID = "210504198001010015"
REGISTERED_ID = "210504194707180878"  # 郝福, head of 2105040010010001 in the sample roster
VILLAGE_1 = "210504001001"
OTHER_VILLAGE = "210504002001"        # town 2: outside cadre001's and town1's areas


@pytest.fixture
def reports(client, sample_district, make_user, reconcile):
    codes = sample_district["codes"]
    district = {**sample_district, "town2": make_user("town2", "supervisor", (codes["210504002"],)),
                "cadre3": make_user("cadre_t2", "cadre", (codes[OTHER_VILLAGE],))}
    phone = Collect(client, sample_district["cadre1"])
    for xml in (report_xml(instance_id="uuid:r1", id_number=GOOD_ID, reasons="illness"),
                report_xml(instance_id="uuid:r2", head="郝福", id_number=REGISTERED_ID, reasons="near_line dropout"),
                report_xml(instance_id="uuid:r3", head="王五", id_number="210504201003030030",
                           village_code=OTHER_VILLAGE, reasons="dangerous_house")):
        answer = phone.submit(xml, files={"house.jpg": jpeg()})
        assert answer.status_code == 201, answer.get_data(as_text=True)
    other = Collect(client, district["cadre3"])
    assert other.submit(report_xml(instance_id="uuid:t2", head="赵六", id_number="210504199002020025",
                                   village_code=OTHER_VILLAGE)).status_code == 201
    reconcile()
    return district


def by_instance(client, headers, **query):
    listed = client.get("/api/v1/outside-reports", query_string=query, headers=headers)
    assert listed.status_code == 200, listed.get_json()
    return {item["instance_id"]: item for item in listed.get_json()["items"]}


def decide(client, headers, report_id, **body):
    return client.post(f"/api/v1/outside-reports/{report_id}/decision", json=body, headers=headers)


def test_a_report_is_kept_as_a_report_with_its_findings_not_as_an_unknown_household(client, reports, sessions):
    with session_scope(sessions) as session:
        states = dict(session.execute(select(Submission.instance_id, Submission.reconcile_state)).all())
    assert {states[i] for i in ("uuid:r1", "uuid:r2", "uuid:r3", "uuid:t2")} == {"report"}
    mine = by_instance(client, reports["town1"])
    assert set(mine) == {"uuid:r1", "uuid:r2", "uuid:r3"}  # r3 names another town's village: filed under the sender's
    r1, r2, r3 = mine["uuid:r1"], mine["uuid:r2"], mine["uuid:r3"]
    assert (r1["state"], r1["reporter"], r1["village"], r1["findings"], r1["suggested_type"]) == (
        "undecided", "cadre001", "高峪一村", [], "突发严重困难户")
    assert r1["id_number"] == "210504********0015"  # masked
    # the head's ID number is a registered member's: a possible duplicate, with that household
    assert r2["duplicate_household"] == "2105040010010001" and r2["suggested_type"] == "边缘易致贫户"
    # a village outside the sender's areas is a finding; the report is kept all the same
    assert [f["code"] for f in r3["findings"]] == ["village_outside_areas"] and r3["village"] is None
    assert by_instance(client, reports["town2"]).keys() == {"uuid:t2"}
    paged = client.get("/api/v1/outside-reports?limit=1&offset=1", headers=reports["town1"]).get_json()
    assert paged["total"] == 3 and [i["instance_id"] for i in paged["items"]] == ["uuid:r2"]  # newest first
    by_reason = client.get("/api/v1/outside-reports?reason=dropout&limit=1", headers=reports["town1"]).get_json()
    assert by_reason["total"] == 1 and by_reason["items"][0]["instance_id"] == "uuid:r2"
    detail = client.get(f"/api/v1/outside-reports/{r1['id']}", headers=reports["cadre1"]).get_json()
    assert (detail["household_size"], detail["phone"], detail["description"]) == (3, "13800000000",
                                                                                 "户主住院，家中无劳动力")
    assert detail["photo_url"].endswith("/household_report/uuid:r1/attachments/house.jpg")
    photo = client.get(detail["photo_url"], headers=reports["town1"])
    assert photo.status_code == 200
    photo.close()


def test_a_bad_id_number_is_a_finding(client, reports, reconcile):
    phone = Collect(client, reports["cadre1"])
    assert phone.submit(report_xml(instance_id="uuid:bad", id_number="210504198001010016")).status_code == 201
    reconcile()
    bad = by_instance(client, reports["town1"])["uuid:bad"]
    assert [f["code"] for f in bad["findings"]] == ["id_number_invalid"] and bad["state"] == "undecided"
    assert decide(client, reports["town1"], bad["id"], decision="register").status_code == 409

def test_registering_puts_the_household_on_the_roster_and_in_the_devices_list(client, reports, sessions):
    r1 = by_instance(client, reports["town1"])["uuid:r1"]
    answer = decide(client, reports["town1"], r1["id"], decision="register")
    assert answer.status_code == 200, answer.get_json()
    decided = answer.get_json()
    assert decided["state"] == "registered"
    number = decided["decision"]["household"]
    # the roster's numbering: the village's code and one more than its highest sequence (0109 in the sample)
    assert number == "2105040010010110"
    assert (decided["decision"]["monitoring_type"], decided["decision"]["cadre"], decided["decision"]["by"]) == (
        "突发严重困难户", "cadre001", "town1")
    with session_scope(sessions) as session:
        household = session.scalar(select(Household).where(Household.number == number))
        assert (household.status, household.monitoring_type, household.head_name, household.cadre) == (
            "监测户", "突发严重困难户", "刘新", "cadre001")
        assert [(m.name, m.id_number, m.relation, m.sex) for m in household.members] == [
            ("刘新", GOOD_ID, "户主", "男")]
        assert session.scalar(select(AuditEntry.action).where(AuditEntry.action == "outside.decision"))
    listed = client.get("/api/v1/households", query_string={"q": number}, headers=reports["town1"]).get_json()
    assert number in {h["number"] for h in listed["items"]}
    assert client.get(f"/api/v1/households/{number}", headers=reports["town1"]).status_code == 200
    # the cadre's phone gets it in households.csv
    media = client.get("/forms/household_visit/attachments/households.csv",
                       headers={"X-OpenRosa-Version": "1.0", **reports["cadre1"]})
    assert media.status_code == 200
    rows = {row["name"]: row for row in csv.DictReader(io.StringIO(media.get_data(as_text=True)))}
    assert rows[number]["status"] == "监测户" and rows[number]["monitoring_type"] == "突发严重困难户"
    assert rows[number]["head"] == "刘新" and rows[number]["cadre"] == "cadre001"
    # decided once
    again = decide(client, reports["town1"], r1["id"], decision="decline", reason="重复")
    assert again.status_code == 409 and again.get_json()["code"] == "outside.decided"
    assert by_instance(client, reports["town1"], state="registered").keys() == {"uuid:r1"}
    assert by_instance(client, reports["town1"], state="undecided").keys() == {"uuid:r2", "uuid:r3"}


def test_declining_keeps_the_report_with_its_reason(client, reports):
    r2 = by_instance(client, reports["town1"])["uuid:r2"]
    assert decide(client, reports["town1"], r2["id"], decision="decline").status_code == 400
    answer = decide(client, reports["town1"], r2["id"], decision="decline", reason="已是建档立卡户成员")
    assert answer.status_code == 200
    assert answer.get_json()["decision"]["reason"] == "已是建档立卡户成员"
    assert by_instance(client, reports["town1"], state="declined").keys() == {"uuid:r2"}


def test_refusals(client, reports):
    mine = by_instance(client, reports["town1"])
    r1, r3 = mine["uuid:r1"], mine["uuid:r3"]
    # a cadre may read but not decide
    assert client.get(f"/api/v1/outside-reports/{r1['id']}", headers=reports["cadre1"]).status_code == 200
    refused = decide(client, reports["cadre1"], r1["id"], decision="register")
    assert refused.status_code == 403 and refused.get_json()["code"] == "outside.not_allowed"
    # another area's report is 404 on reads and writes
    assert client.get(f"/api/v1/outside-reports/{r1['id']}", headers=reports["town2"]).status_code == 404
    assert decide(client, reports["town2"], r1["id"], decision="decline", reason="x").status_code == 404
    # a village outside the reporter's areas cannot be registered, only declined
    unusable = decide(client, reports["town1"], r3["id"], decision="register")
    assert unusable.status_code == 409 and unusable.get_json()["code"] == "outside.unusable"
    # a cadre not of the village cannot be made 帮扶责任人
    assert decide(client, reports["town1"], r1["id"], decision="register", cadre="cadre_t2").status_code == 400
    assert decide(client, reports["town1"], r1["id"], decision="maybe").status_code == 400


def test_a_rebuild_finds_the_same_reports_and_keeps_the_decisions(client, reports, app, sessions):
    r1 = by_instance(client, reports["town1"])["uuid:r1"]
    assert decide(client, reports["town1"], r1["id"], decision="register").status_code == 200
    before = by_instance(client, reports["town1"])
    rt = app.extensions["zoufang"]
    rebuild(rt.sessions, rt.queue)
    after = by_instance(client, reports["town1"])
    strip = lambda items: {k: {f: v for f, v in item.items() if f != "id"} for k, item in items.items()}  # noqa: E731
    assert strip(after) == strip(before)
    # the registered household is not a duplicate of the report that registered it
    assert after["uuid:r1"]["duplicate_household"] is None and after["uuid:r1"]["state"] == "registered"
    with session_scope(sessions) as session:
        assert session.scalar(select(Submission.reconcile_state).where(Submission.instance_id == "uuid:r1")) == "report"
        assert len(session.scalars(select(OutsideReport)).all()) == 4


# ---- the pages ---------------------------------------------------------------------------------------------------

def _text(response) -> str:
    return response.get_data(as_text=True)


def test_the_pages_list_show_and_decide(client, reports):
    from support import login
    import re
    r1 = by_instance(client, reports["town1"])["uuid:r1"]
    login(client, "cadre001")
    assert _text(client.get("/outside/")).count('data-testid="outside-row"') == 3
    seen = _text(client.get(f"/outside/{r1['id']}"))
    assert "刘新" in seen and 'data-testid="outside-decide"' not in seen  # a cadre reads, does not decide
    login(client, "town1")
    home = _text(client.get("/"))
    assert "待决定的新发现户" in home and "/outside/?state=undecided" in home
    # the submissions list says what a report is instead of "no household number"
    assert _text(client.get("/review/")).count('data-testid="outside-report-link"') == 3
    listed = _text(client.get("/outside/?state=undecided&reason=illness"))
    assert listed.count('data-testid="outside-row"') == 1
    assert client.get("/outside/?state=maybe").status_code == 400
    assert client.get("/outside/?area=210504002001").status_code == 404
    page = _text(client.get(f"/outside/{r1['id']}"))
    assert 'data-testid="outside-register-form"' in page
    token = re.search(r'name="csrf_token" value="([^"]+)"', page).group(1)
    assert client.post(f"/outside/{r1['id']}/decision", data={"decision": "register"}).status_code in (400, 403)
    done = client.post(f"/outside/{r1['id']}/decision", data={
        "csrf_token": token, "decision": "register", "monitoring_type": "边缘易致贫户", "cadre": "cadre001"})
    assert done.status_code == 302
    page = _text(client.get(f"/outside/{r1['id']}"))
    assert 'data-testid="outside-household"' in page and "2105040010010110" in page and "边缘易致贫户" in page
    file = _text(client.get("/households/2105040010010110"))
    assert "刘新" in file and 'data-testid="household-outside-origin"' in file and f"/outside/{r1['id']}" in file
    login(client, "town2")
    assert client.get(f"/outside/{r1['id']}").status_code == 404


def test_an_edit_of_a_report_updates_the_same_report(client, reports, reconcile):
    before = by_instance(client, reports["town1"])["uuid:r1"]
    phone = Collect(client, reports["cadre1"])
    edit = report_xml(instance_id="uuid:r1e", deprecated_id="uuid:r1", id_number=GOOD_ID, head="刘新民",
                      reasons="illness disaster")
    assert phone.submit(edit, files={"house.jpg": jpeg()}).status_code == 201
    reconcile()
    mine = by_instance(client, reports["town1"])
    assert "uuid:r1" not in mine and mine["uuid:r1e"]["id"] == before["id"]
    assert (mine["uuid:r1e"]["head_name"], mine["uuid:r1e"]["reasons"]) == ("刘新民", ["illness", "disaster"])


def test_the_web_form_of_the_report_opens_for_a_cadre(client, reports):
    from support import login
    login(client, "cadre001")
    assert client.get("/fill/household_report").status_code == 200
