"""Writes are scoped like reads: a submission about a household outside the sender's areas is stored but held out of
the household's record (超出辖区) until a supervisor of that household's area accepts it; an edit or a split upload's
continuation comes only from the original sender (an edit also from a supervisor or admin over the household)."""
import re

import pytest
from sqlalchemy import func, select

from server.db import session_scope
from support import Collect, jpeg, login, new_instance_id, visit_xml
from sync.models import Submission

HH = "2105040010010001"              # village 1 of town 1, cadre001's
OTHER_TOWN_HH = "2105040020010003"   # 牛心一村, town 2
OTHER_VILLAGE = "210504002001"


@pytest.fixture
def district(sample_district, make_user, admin):
    codes = sample_district["codes"]
    sample_district["town2"] = make_user("town2", "supervisor", (codes["210504002"],))
    sample_district["admin"] = admin
    return sample_district


def stored(sessions, instance_id) -> Submission:
    with session_scope(sessions) as session:
        row = session.scalar(select(Submission).where(Submission.instance_id == instance_id))
        row.attachments  # load before the session closes
        return row


def submissions(sessions) -> int:
    with session_scope(sessions) as session:
        return session.scalar(select(func.count(Submission.id)))


def grade(client, district, number=OTHER_TOWN_HH):
    record = client.get(f"/api/v1/households/{number}", headers=district["admin"]).get_json()
    return record["fields"].get("housing_grade", {}).get("value")


def submit(client, district, who, household, **xml_args):
    instance_id = xml_args.pop("instance_id", None) or new_instance_id()
    files = xml_args.pop("files", None)
    response = Collect(client, district[who]).submit(visit_xml(household, instance_id=instance_id, **xml_args),
                                                      files)
    return instance_id, response


@pytest.fixture
def held(client, district, reconcile):
    """cadre001 (village 1, town 1) sets housing grade D on a household of town 2."""
    instance_id, response = submit(client, district, "cadre1", OTHER_TOWN_HH, grade="D", username="cadre001")
    assert response.status_code == 201, response.get_data(as_text=True)
    reconcile()
    return instance_id


def decide(client, district, who, instance_id, decision, reason=""):
    return client.post(f"/api/v1/submissions/household_visit/{instance_id}/area-decision",
                       json={"decision": decision, "reason": reason}, headers=district[who])


def listed(client, district, who):
    response = client.get("/api/v1/out-of-area", headers=district[who])
    assert response.status_code == 200, response.get_data(as_text=True)
    return response.get_json()


# ---- out of area -------------------------------------------------------------------------------------------

def test_a_submission_about_a_household_outside_the_senders_areas_is_stored_but_kept_out_of_its_record(
        client, district, held, sessions):
    submission = stored(sessions, held)
    assert submission.out_of_area is True
    assert submission.reconcile_state == "out_of_area"
    assert submission.area_id == district["codes"][OTHER_VILLAGE]  # filed under the household's area
    assert grade(client, district) is None


def test_the_sender_still_sees_their_own_held_submission_and_nobody_else_outside_the_area_does(
        client, district, held):
    own = client.get(f"/api/v1/submissions/household_visit/{held}", headers=district["cadre1"])
    assert own.status_code == 200 and own.get_json()["out_of_area"] is True
    assert held in {s["instance_id"] for s in client.get("/api/v1/submissions",
                                                         headers=district["cadre1"]).get_json()}
    assert client.get(f"/api/v1/submissions/household_visit/{held}", headers=district["cadre2"]).status_code == 404
    assert client.get(f"/api/v1/submissions/household_visit/{held}", headers=district["town2"]).status_code == 200


def test_a_supervisor_of_the_households_area_accepts_it_and_it_joins_the_record(
        client, district, held, reconcile, sessions):
    [item] = listed(client, district, "town2")["items"]
    assert (item["instance_id"], item["household"], item["decision"]) == (held, OTHER_TOWN_HH, None)
    assert listed(client, district, "town1")["total"] == 0  # the sender's town is not the household's
    assert decide(client, district, "town1", held, "accepted").status_code == 404
    response = decide(client, district, "town2", held, "accepted", "已电话核实")
    assert response.status_code == 200, response.get_data(as_text=True)
    assert (response.get_json()["decision"], response.get_json()["decided_by"]) == ("accepted", "town2")
    reconcile()
    assert grade(client, district) == "D"
    assert stored(sessions, held).reconcile_state == "applied"
    assert listed(client, district, "town2")["total"] == 0
    from server.models import AuditEntry
    with session_scope(sessions) as session:  # a privileged decision is in the audit log
        entry = session.scalars(select(AuditEntry).where(AuditEntry.action == "submission.area_decision")).one()
        assert (entry.actor, entry.details) == ("town2", {"decision": "accepted", "reason": "已电话核实"})
    again = decide(client, district, "town2", held, "rejected")
    assert again.status_code == 409 and again.get_json()["code"] == "area_decision.decided"


def test_a_rejected_one_stays_stored_out_of_the_record_and_listed_as_rejected(
        client, district, held, reconcile, sessions):
    assert decide(client, district, "town2", held, "rejected", "不是本户").status_code == 200
    reconcile()
    assert grade(client, district) is None
    assert stored(sessions, held).reconcile_state == "out_of_area"
    [item] = listed(client, district, "town2")["items"]
    assert item["decision"]["decision"] == "rejected" and item["decision"]["reason"] == "不是本户"
    from sync.review_models import AreaDecision
    with session_scope(sessions) as session:  # the decision is a fact of its own: the submission is unchanged
        assert session.scalar(select(AreaDecision.decided_by_name)) == "town2"


def test_a_supervisor_who_sent_one_outside_their_areas_reads_it_but_may_neither_review_nor_accept_it(
        client, district):
    instance_id, response = submit(client, district, "town2", HH)
    assert response.status_code == 201
    url = f"/api/v1/submissions/household_visit/{instance_id}"
    assert client.get(url, headers=district["town2"]).status_code == 200
    assert client.post(f"{url}/review", json={"state": "approved"}, headers=district["town2"]).status_code == 404
    assert decide(client, district, "town2", instance_id, "accepted").status_code == 404
    assert decide(client, district, "town1", instance_id, "accepted").status_code == 200


def test_the_out_of_area_endpoints_are_described_in_openapi(client):
    paths = client.get("/api/v1/openapi.json").get_json()["paths"]
    assert "get" in paths["/out-of-area"]
    assert "post" in paths["/submissions/{xml_form_id}/{instance_id}/area-decision"]


def test_cadres_may_not_decide_and_a_submission_in_its_area_has_nothing_to_decide(client, district, held):
    assert decide(client, district, "cadre1", held, "accepted").status_code == 403
    assert client.get("/api/v1/out-of-area", headers=district["cadre1"]).status_code == 403
    in_area, response = submit(client, district, "cadre1", HH)
    assert response.status_code == 201
    refused = decide(client, district, "town1", in_area, "accepted")
    assert refused.status_code == 409 and refused.get_json()["code"] == "area_decision.not_held"


@pytest.mark.parametrize("who, household, out_of_area", [
    ("cadre1", HH, False), ("town1", HH, False), ("town2", HH, True), ("admin", OTHER_TOWN_HH, False),
    ("cadre1", "2105040010019999", False),  # an unknown household number: nothing to be out of
])
def test_who_is_out_of_area(client, district, sessions, who, household, out_of_area):
    instance_id, response = submit(client, district, who, household)
    assert response.status_code == 201
    assert stored(sessions, instance_id).out_of_area is out_of_area


def test_the_page_lists_it_for_the_households_supervisor_who_accepts_it(client, district, held, reconcile):
    login(client, "town2")
    html = client.get("/review/out-of-area").get_data(as_text=True)
    [row] = re.split(r'(?=<[^>]+data-testid="out-of-area-row")', html)[1:]
    assert OTHER_TOWN_HH in row and "cadre001" in row and 'data-state="waiting"' in row
    token = re.search(r'name="csrf_token" value="([^"]+)"', html).group(1)
    response = client.post(f"/review/out-of-area/household_visit/{held}",
                           data={"decision": "accepted", "reason": "核实过", "csrf_token": token})
    assert response.status_code == 302
    after = client.get("/review/out-of-area").get_data(as_text=True)
    assert "已接受，将并入该户档案。" in after and 'data-testid="out-of-area-row"' not in after
    reconcile()
    assert grade(client, district) == "D"
    assert "Out of area" in client.get("/review/out-of-area?lang=en").get_data(as_text=True)


def test_another_towns_supervisor_neither_sees_nor_decides_it_on_the_page(client, district, held):
    login(client, "town1")
    html = client.get("/review/out-of-area").get_data(as_text=True)
    assert 'data-testid="out-of-area-row"' not in html
    token = re.search(r'name="csrf_token" value="([^"]+)"', html).group(1)
    response = client.post(f"/review/out-of-area/household_visit/{held}",
                           data={"decision": "accepted", "csrf_token": token})
    assert response.status_code == 404


# ---- edits and continuations -------------------------------------------------------------------------------

@pytest.fixture
def original(client, district):
    """cadre001's visit to a household of their village, with its photo."""
    instance_id, response = submit(client, district, "cadre1", HH, grade="A", files={"family.jpg": jpeg()})
    assert response.status_code == 201
    return instance_id


@pytest.mark.parametrize("who, allowed", [
    ("cadre1", True), ("town1", True), ("admin", True), ("cadre2", False), ("town2", False)])
def test_an_edit_comes_from_the_sender_or_a_supervisor_over_the_household(
        client, district, original, sessions, who, allowed):
    before = submissions(sessions)
    edit, response = submit(client, district, who, HH, grade="D", deprecated_id=original)
    if allowed:
        assert response.status_code == 201, response.get_data(as_text=True)
        assert stored(sessions, original).current is False and stored(sessions, edit).current is True
        return
    assert response.status_code == 403
    body = response.get_data(as_text=True)
    assert "只有原发送人" in body and "Only the sender of this submission" in body
    assert response.headers["Content-Type"] == "text/xml; charset=utf-8"
    assert submissions(sessions) == before and stored(sessions, original).current is True


def test_an_edit_pointed_at_the_editors_own_area_does_not_open_anothers_photo(client, district, original):
    """cadre002 (village 2) cannot edit cadre001's visit into their own village to read its photo."""
    edit, response = submit(client, district, "cadre2", "2105040010020002", deprecated_id=original)
    assert response.status_code == 403
    photo = client.get(f"/api/v1/submissions/household_visit/{edit}/attachments/family.jpg",
                       headers=district["cadre2"])
    assert photo.status_code == 404


def test_an_edit_that_moves_the_submission_outside_the_editors_areas_is_held_out_of_area(
        client, district, original, sessions):
    edit, response = submit(client, district, "cadre1", OTHER_TOWN_HH, deprecated_id=original)
    assert response.status_code == 201
    moved = stored(sessions, edit)
    assert moved.out_of_area is True and moved.area_id == district["codes"][OTHER_VILLAGE]
    assert moved.root_instance_id == original


@pytest.mark.parametrize("who", ["cadre2", "town1", "admin"])
def test_a_continuation_from_another_account_is_403_and_adds_nothing(client, district, sessions, who):
    instance_id = new_instance_id()
    xml = visit_xml(HH, instance_id=instance_id)
    assert Collect(client, district["cadre1"]).submit(xml).status_code == 201
    response = Collect(client, district[who]).submit(xml, {"family.jpg": jpeg()})
    assert response.status_code == 403
    assert "only its sender may send its files" in response.get_data(as_text=True)
    assert [a.state for a in stored(sessions, instance_id).attachments] == ["missing"]
    assert Collect(client, district["cadre1"]).submit(xml, {"family.jpg": jpeg()}).status_code == 201
    assert [a.state for a in stored(sessions, instance_id).attachments] == ["received"]
