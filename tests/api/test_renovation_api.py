"""The renovation ledger (危房改造台账) through the API: a C/D assessment opens a row, later assessments and entries by
hand move it on, each step in order, each refusal with its status, and every read and write in the caller's areas.
Payments are entered by finance staff (财务人员) or an admin (issue 19: "payments by hand (finance staff role or
admin)"), the other facts by a supervisor or an admin; finance staff read the ledger of their areas.

DOMAIN.md "Precisions", line 87: "Renovation ends only when both hold: the family has moved in and the old house is
dealt with (建新拆旧, 防止"两头住", 004). Subsidies go to the household's 一卡通 account (004)".
"""
import pytest
from sqlalchemy import select

from server.db import session_scope
from server.models import AuditEntry
from support import Collect, assessment_xml, login, visit_xml
from sync.renovation_models import RenovationEntry

HH13 = "2105040010010013"      # village 1 (town 1)
HH = "2105040010010001"        # village 1, graded B
OTHER = "2105040020010003"     # town 2: outside town1's areas


@pytest.fixture
def ledger(client, sample_district, admin, reconcile, make_user):
    # payments are entered by finance staff (or an admin), issue 19: "payments by hand (finance staff role or admin)"
    sample_district["finance1"] = make_user("finance1", "finance", (sample_district["codes"]["210504001"],))
    phone = Collect(client, admin)
    for xml in (assessment_xml(HH13, instance_id="uuid:a1", grade="D", renovation_state="planned", mode="ex_situ",
                               end="2026-03-02T10:00:00+08:00"),
                assessment_xml(HH, instance_id="uuid:b1", grade="B"),
                assessment_xml(OTHER, instance_id="uuid:o1", grade="C", renovation_state="building")):
        assert phone.submit(xml).status_code == 201
    reconcile()
    return sample_district


def enter(client, headers, number=HH13, **body):
    return client.post(f"/api/v1/renovation/{number}/entries", json=body, headers=headers)


def test_a_c_or_d_assessment_opens_a_row_in_the_callers_areas(client, ledger):
    town1 = ledger["town1"]
    listed = client.get("/api/v1/renovation", headers=town1).get_json()
    assert [row["household"] for row in listed["items"]] == [HH13]
    row = client.get(f"/api/v1/renovation/{HH13}", headers=town1).get_json()
    assert (row["grade"], row["assessment_instance_id"], row["graded_on"], row["stage"], row["mode"]) == (
        "D", "uuid:a1", "2026-03-02", "planned", "ex_situ")
    # DOMAIN.md line 48: D 45,000 yuan; seed 004: moved in by the end of November
    assert (row["subsidy"], row["subsidy_year"], row["paid_amount"], row["deadline"]) == (
        45000, 2026, 0, "2026-11-30")
    assert "registered" in row["groups"] and row["groups_source"] == "roster"
    photo = next(p for p in row["photos"] if p["role"] == "photo_house")
    assert photo["stage"] == "planned" and photo["url"].endswith("/housing_assessment/uuid:a1/attachments/house.jpg")


def test_each_step_in_order_until_the_old_house_is_dealt_with(client, ledger, admin, reconcile):
    town1 = ledger["town1"]
    assert Collect(client, admin).submit(assessment_xml(
        HH13, instance_id="uuid:a2", grade="D", renovation_state="finished", mode="ex_situ", base_version=2,
        end="2026-06-01T10:00:00+08:00")).status_code == 201
    reconcile()
    row = client.get(f"/api/v1/renovation/{HH13}", headers=town1).get_json()
    assert (row["stage"], row["started_on"], row["finished_on"]) == ("finished", "2026-06-01", "2026-06-01")
    # the old house may not be dealt with before the family moved in: out of order
    refused = enter(client, town1, kind="stage", stage="old_dealt", on="2026-07-01")
    assert refused.status_code == 409 and refused.get_json()["code"] == "renovation.out_of_order"
    moved = enter(client, town1, kind="stage", stage="moved_in", on="2026-07-01")
    assert moved.status_code == 200, moved.get_data(as_text=True)
    assert moved.get_json()["stage"] == "moved_in"  # moved in elsewhere: not finished (DOMAIN.md line 87)
    done = enter(client, town1, kind="stage", stage="old_dealt", on="2026-08-15").get_json()
    assert (done["stage"], done["old_dealt_on"], done["overdue"]) == ("old_dealt", "2026-08-15", False)
    assert enter(client, town1, kind="stage", stage="old_dealt", on="2026-08-16").status_code == 409
    assert [step["event"] for step in done["history"]] == ["assessed", "assessed", "stage", "stage"]
    assert done["history"][-1]["by"] == "town1"


def test_payments_to_the_card_up_to_the_subsidy(client, ledger, sessions):
    # entered by finance staff (before the finance role existed, a supervisor entered them: now refused, below)
    finance = ledger["finance1"]
    first = enter(client, finance, kind="payment", amount=20000, on="2026-07-10")
    assert first.status_code == 200 and first.get_json()["paid_amount"] == 20000
    over = enter(client, finance, kind="payment", amount=25001, on="2026-07-11")
    assert over.status_code == 409 and over.get_json()["code"] == "renovation.overpaid"
    future = enter(client, finance, kind="payment", amount=100, on="2099-01-01")
    assert future.status_code == 400 and future.get_json()["code"] == "renovation.date_in_future"
    assert enter(client, finance, kind="payment", on="2026-07-11").status_code == 400
    second = enter(client, finance, kind="payment", amount=25000, on="2026-08-01").get_json()
    assert (second["paid_amount"], second["paid_on"]) == (45000, "2026-08-01")
    with session_scope(sessions) as session:
        entries = session.scalars(select(RenovationEntry).order_by(RenovationEntry.id)).all()
        assert [(e.kind, e.value, e.by_name) for e in entries] == [
            ("payment", {"amount": 20000, "on": "2026-07-10"}, "finance1"),
            ("payment", {"amount": 25000, "on": "2026-08-01"}, "finance1")]
        audits = session.scalars(select(AuditEntry).where(AuditEntry.action == "renovation.entry")).all()
        assert [a.details["kind"] for a in audits] == ["payment", "payment"]


def test_mode_floor_area_groups_and_deadline_by_hand(client, ledger):
    town1 = ledger["town1"]
    assert enter(client, town1, kind="mode", mode="collective_rental").get_json()["mode_source"] == "entry"
    assert enter(client, town1, kind="floor_area", m2=62.5).get_json()["floor_area"] == 62.5
    row = enter(client, town1, kind="groups", groups=["disabled", "destitute"]).get_json()
    assert (row["groups"], row["groups_source"]) == (["destitute", "disabled"], "entry")
    row = enter(client, town1, kind="deadline", on="2026-09-30").get_json()
    assert (row["deadline"], row["deadline_source"]) == ("2026-09-30", "entry")
    assert enter(client, town1, kind="groups", groups=["rich"]).status_code == 400
    assert enter(client, town1, kind="floor_area", m2=-3).status_code == 400
    filtered = client.get("/api/v1/renovation?mode=collective_rental&grade=D&stage=planned", headers=town1)
    assert [r["household"] for r in filtered.get_json()["items"]] == [HH13]
    assert client.get("/api/v1/renovation?mode=rebuild", headers=town1).get_json()["total"] == 0


def test_overdue_filter(client, ledger):
    town1 = ledger["town1"]
    enter(client, town1, kind="deadline", on="2026-04-30")
    assert [r["household"] for r in client.get("/api/v1/renovation?overdue=true", headers=town1).get_json()[
        "items"]] == [HH13]
    enter(client, town1, kind="deadline", on="2099-04-30")
    assert client.get("/api/v1/renovation?overdue=true", headers=town1).get_json()["total"] == 0


def test_a_cadre_reads_but_may_not_enter_a_payment(client, ledger):
    cadre = ledger["cadre1"]
    assert client.get(f"/api/v1/renovation/{HH13}", headers=cadre).status_code == 200
    refused = enter(client, cadre, kind="payment", amount=100, on="2026-07-10")
    assert refused.status_code == 403 and refused.get_json()["code"] == "renovation.not_allowed"


def test_another_areas_house_is_not_found_for_reading_and_writing(client, ledger, admin):
    town1 = ledger["town1"]
    assert client.get(f"/api/v1/renovation/{OTHER}", headers=town1).status_code == 404
    assert enter(client, town1, OTHER, kind="payment", amount=100, on="2026-07-10").status_code == 404
    assert client.get("/api/v1/renovation?area=210504002001", headers=town1).status_code == 404
    assert client.get(f"/api/v1/renovation/{OTHER}", headers=admin).status_code == 200
    # a household without a C/D house has no row
    assert client.get(f"/api/v1/renovation/{HH}", headers=town1).status_code == 404


def test_the_publicity_list_of_a_village_shows_no_id_number(client, ledger):
    town1 = ledger["town1"]
    response = client.get("/api/v1/renovation/publicity?village=210504001001", headers=town1)
    assert response.status_code == 200
    items = response.get_json()
    assert [(i["grade"], i["mode_zh"], i["subsidy"]) for i in items] == [("D", "易地扶贫搬迁", 45000)]
    assert set(items[0]) == {"name", "village", "grade", "mode", "mode_zh", "subsidy"}
    assert client.get("/api/v1/renovation/publicity?village=210504002001", headers=town1).status_code == 404
    assert client.get("/api/v1/renovation/publicity", headers=town1).status_code == 400


@pytest.mark.parametrize("query", ["grade=A", "mode=castle", "stage=half", "overdue=maybe", "limit=0"])
def test_bad_filters_are_a_400(client, ledger, query):
    assert client.get(f"/api/v1/renovation?{query}", headers=ledger["town1"]).status_code == 400


def test_the_ledger_exports_as_csv_with_the_lists_filters(client, ledger):
    town1 = ledger["town1"]
    assert enter(client, ledger["finance1"], kind="payment", amount=20000, on="2026-07-10").status_code == 200
    response = client.get("/api/v1/exports/renovation.csv?grade=D", headers=town1)
    assert response.status_code == 200 and response.content_type.startswith("text/csv")
    lines = response.get_data().decode("utf-8-sig").splitlines()
    assert lines[0].startswith("户编号,户主,村,危房等级")
    assert len(lines) == 2 and lines[1].startswith(f"{HH13},") and ",易地扶贫搬迁," in lines[1]
    assert ",45000,2026,20000,2026-07-10," in lines[1]
    assert client.get("/api/v1/exports/renovation.csv?grade=C", headers=town1).get_data().decode(
        "utf-8-sig").count("\n") == 1
    assert client.get("/api/v1/exports/renovation.csv?area=210504002001", headers=town1).status_code == 404


def test_a_visit_that_saw_the_stage_moves_the_row_on_and_is_named_as_its_source(client, ledger, admin, reconcile):
    """Issue 19: "Progress comes from assessments and visits where observed". DOMAIN.md line 87: moved in elsewhere
    (易地扶贫搬迁) is not the end."""
    town1 = ledger["town1"]
    phone = Collect(client, ledger["cadre1"])
    for xml in (visit_xml(HH13, instance_id="uuid:v1", end="2026-05-10T10:00:00+08:00", grade="D", house_safe="no",
                          problems="housing", help_given="housing", base_version=2,
                          answers={"two_assurances/renovated": "no", "two_assurances/renovation_stage": "finished"}),
                visit_xml(HH13, instance_id="uuid:v2", end="2026-06-10T10:00:00+08:00", grade="D", house_safe="no",
                          problems="housing", help_given="housing", base_version=3,
                          answers={"two_assurances/renovated": "no", "two_assurances/renovation_stage": "moved_in"})):
        response = phone.submit(xml)
        assert response.status_code == 201, response.get_data(as_text=True)
    reconcile()
    row = client.get(f"/api/v1/renovation/{HH13}", headers=town1).get_json()
    assert (row["stage"], row["started_on"], row["finished_on"], row["moved_in_on"], row["old_dealt_on"]) == (
        "moved_in", "2026-05-10", "2026-05-10", "2026-06-10", None)
    assert row["stage_sources"]["finished"] == {"form": "household_visit", "instance_id": "uuid:v1",
                                                "on": "2026-05-10"}
    assert row["stage_sources"]["moved_in"]["instance_id"] == "uuid:v2"
    assert [(s["event"], s.get("stage")) for s in row["history"]] == [
        ("assessed", "planned"), ("visited", "finished"), ("visited", "moved_in")]
    # the household file names the visit beside the date it set, linked to it
    login(client, "town1")
    html = client.get(f"/households/{HH13}").get_data(as_text=True)
    assert f'href="/households/{HH13}/submissions/household_visit/uuid:v1"' in html
    assert html.count('data-testid="stage-source" data-form="household_visit"') == 3


# ---- the finance role (财务人员) --------------------------------------------------------------------------------------------------------

def test_finance_staff_read_their_areas_ledger_and_publicity_list(client, ledger):
    finance = ledger["finance1"]
    listed = client.get("/api/v1/renovation", headers=finance).get_json()
    assert [row["household"] for row in listed["items"]] == [HH13]
    assert client.get(f"/api/v1/renovation/{HH13}", headers=finance).status_code == 200
    publicity = client.get("/api/v1/renovation/publicity?village=210504001001", headers=finance)
    assert publicity.status_code == 200 and len(publicity.get_json()) == 1
    assert client.get("/api/v1/exports/renovation.csv", headers=finance).status_code == 200


def test_finance_staff_enter_a_payment_and_the_unpaid_filter_follows(client, ledger):
    finance = ledger["finance1"]
    assert client.get("/api/v1/renovation?unpaid=true", headers=finance).get_json()["total"] == 1
    paid = enter(client, finance, kind="payment", amount=45000, on="2026-07-10")
    assert paid.status_code == 200, paid.get_data(as_text=True)
    row = paid.get_json()
    assert (row["paid_amount"], row["paid_on"]) == (45000, "2026-07-10")
    assert row["history"][-1]["event"] == "payment" and row["history"][-1]["by"] == "finance1"
    assert client.get("/api/v1/renovation?unpaid=true", headers=finance).get_json()["total"] == 0


@pytest.mark.parametrize("body", [{"kind": "stage", "stage": "finished", "on": "2026-07-01"},
                                  {"kind": "mode", "mode": "repair"}, {"kind": "floor_area", "m2": 60},
                                  {"kind": "groups", "groups": ["dibao"]}, {"kind": "deadline", "on": "2026-09-30"}])
def test_finance_staff_may_enter_no_other_fact(client, ledger, body):
    refused = enter(client, ledger["finance1"], **body)
    assert refused.status_code == 403 and refused.get_json()["code"] == "renovation.not_allowed"


def test_a_supervisor_may_no_longer_enter_a_payment_but_an_admin_may(client, ledger, admin):
    refused = enter(client, ledger["town1"], kind="payment", amount=100, on="2026-07-10")
    assert refused.status_code == 403 and refused.get_json()["code"] == "renovation.not_allowed"
    assert enter(client, ledger["town1"], kind="stage", stage="building", on="2026-07-01").status_code == 200
    assert enter(client, admin, kind="payment", amount=100, on="2026-07-10").get_json()["paid_amount"] == 100
    assert enter(client, ledger["cadre1"], kind="payment", amount=100, on="2026-07-10").status_code == 403


def test_another_areas_house_is_not_found_to_finance_staff(client, ledger):
    finance = ledger["finance1"]
    assert client.get(f"/api/v1/renovation/{OTHER}", headers=finance).status_code == 404
    assert enter(client, finance, OTHER, kind="payment", amount=100, on="2026-07-10").status_code == 404
    assert client.get("/api/v1/renovation/publicity?village=210504002001", headers=finance).status_code == 404
    assert client.get("/api/v1/renovation?area=210504002001", headers=finance).status_code == 404


def test_finance_staff_make_no_review_decision(client, ledger):
    finance = ledger["finance1"]
    decision = client.post("/api/v1/submissions/housing_assessment/uuid:a1/review", headers=finance,
                           json={"state": "approved"})
    assert decision.status_code == 403
    assert client.get("/api/v1/out-of-area", headers=finance).status_code == 403


def test_finance_staff_send_no_forms_by_password_or_by_device(client, ledger, sessions):
    """Finance staff enter payments on the pages; a visit they sent would set a renovation stage (and count as a
    visit), so their accounts are refused at /submission however they log in, and nothing is kept."""
    from server.auth import token_sha256
    from server.models import Device, User
    from sync.models import Submission
    with session_scope(sessions) as session:
        finance = session.scalar(select(User).where(User.username == "finance1"))
        session.add(Device(user_id=finance.id, token_sha256=token_sha256("finance-phone-token"), name="手机"))
    xml = visit_xml(HH13, instance_id="uuid:finance-visit", answers={"two_assurances/renovation_stage": "moved_in"})
    for phone in (Collect(client, ledger["finance1"]), Collect(client, {}, prefix="/key/finance-phone-token")):
        response = phone.submit(xml)
        assert response.status_code == 403, response.get_data(as_text=True)
        assert "财务人员的账号不能提交表单" in response.get_data(as_text=True)
    with session_scope(sessions) as session:
        assert session.scalar(select(Submission.id).where(Submission.instance_id == "uuid:finance-visit")) is None
    assert Collect(client, ledger["town1"]).submit(xml).status_code == 201   # a supervisor's is taken
