"""Review: review states and comments (API and pages), the conflict queue resolved through the page, the
data-quality list and questionable visits, each limited to the caller's areas."""
import datetime as dt
import re

import pytest
from sqlalchemy import select, update

from server.db import session_scope
from support import login, Collect, new_instance_id, visit_xml
from server.models import User
from sync.models import Household, Submission
from sync.records import Visit
from sync.review_models import ReviewComment

HH = "2105040010010001"        # village 1 (town 1)
OTHER_TOWN_HH = "2105040020010001"  # village 牛心一村 (town 2)
MONTH = "2026-11"


def csrf(client, path):
    return re.search(r'name="csrf_token" value="([^"]+)"', client.get(path).get_data(as_text=True)).group(1)


def blocks(html, testid):
    """The opening tags (and what follows up to the next such tag) of the elements with this data-testid."""
    return re.split(rf'(?=<[^>]+data-testid="{testid}")', html)[1:]


@pytest.fixture
def district(sample_district, make_user):
    codes = sample_district["codes"]
    sample_district["town2"] = make_user("town2", "supervisor", (codes["210504002"],))
    return sample_district


@pytest.fixture
def visit(client, district, reconcile):
    """A visit by cadre001 in village 1, reconciled; returns its instance id."""
    instance_id = new_instance_id()
    response = Collect(client, district["cadre1"]).submit(visit_xml(HH, instance_id=instance_id))
    assert response.status_code == 201, response.get_data(as_text=True)
    reconcile()
    return instance_id


def review_url(instance_id, what="review"):
    return f"/api/v1/submissions/household_visit/{instance_id}/{what}"


# ---- API ---------------------------------------------------------------------------------------------------

def test_supervisor_sets_review_state_with_a_comment_and_the_cadre_reads_it(client, district, visit):
    response = client.post(review_url(visit), json={"state": "has_issues", "comment": "合影看不清，请补拍"},
                           headers=district["town1"])
    assert response.status_code == 200, response.get_data(as_text=True)
    body = response.get_json()
    assert body["review_state"] == "has_issues"
    assert [(c["author"], c["review_state"], c["body"]) for c in body["comments"]] == [
        ("town1", "has_issues", "合影看不清，请补拍")]
    comments = client.get(review_url(visit, "comments"), headers=district["cadre1"])
    assert comments.status_code == 200
    assert comments.get_json()[0]["body"] == "合影看不清，请补拍"
    assert client.get(f"/api/v1/submissions/household_visit/{visit}",
                      headers=district["cadre1"]).get_json()["review_state"] == "has_issues"


def test_a_comment_alone_keeps_the_state_and_the_same_state_again_adds_nothing(client, district, visit, sessions):
    client.post(review_url(visit), json={"state": "approved"}, headers=district["town1"])
    assert client.post(review_url(visit), json={"comment": "补充说明"}, headers=district["town1"]).status_code == 200
    again = client.post(review_url(visit), json={"state": "approved"}, headers=district["town1"])
    assert again.get_json()["review_state"] == "approved"
    assert [(c["review_state"], c["body"]) for c in again.get_json()["comments"]] == [
        ("approved", ""), (None, "补充说明")]


@pytest.mark.parametrize("body, code", [({"state": "done"}, "request.invalid"), ({}, "review.empty"),
                                        ({"comment": "   "}, "review.empty"),
                                        ({"comment": "x" * 2001}, "request.invalid")])
def test_a_review_that_says_nothing_or_names_no_state_is_refused(client, district, visit, body, code):
    response = client.post(review_url(visit), json=body, headers=district["town1"])
    assert response.status_code == 400 and response.get_json()["code"] == code


def test_cadres_may_not_review(client, district, visit):
    assert client.post(review_url(visit), json={"state": "approved"}, headers=district["cadre1"]).status_code == 403


@pytest.mark.parametrize("who", ["town2", "cadre2"])
def test_another_areas_submission_is_404_for_review_and_comments(client, district, visit, who):
    assert client.get(review_url(visit, "comments"), headers=district[who]).status_code == 404
    if who == "town2":
        response = client.post(review_url(visit), json={"state": "approved"}, headers=district[who])
        assert response.status_code == 404 and response.get_json()["code"] == "submission.not_found"


def test_review_through_the_api_with_a_session_needs_the_csrf_header(client, district, visit):
    login(client, "town1")
    token = csrf(client, "/review/")
    assert client.post(review_url(visit), json={"state": "approved"}).status_code == 400
    assert client.post(review_url(visit), json={"state": "approved"},
                       headers={"X-CSRF-Token": token}).status_code == 200


def test_the_review_endpoints_are_described_in_openapi(client):
    paths = client.get("/api/v1/openapi.json").get_json()["paths"]
    assert "post" in paths["/submissions/{xml_form_id}/{instance_id}/review"]
    assert "get" in paths["/submissions/{xml_form_id}/{instance_id}/comments"]


# ---- pages: submissions ------------------------------------------------------------------------------------

def test_supervisor_reviews_a_submission_on_the_page(client, district, visit, sessions):
    login(client, "town1")
    listing = client.get("/review/").get_data(as_text=True)
    [row] = blocks(listing, "submission-row")
    assert visit in row and "已接收" in row
    detail_path = f"/review/submissions/household_visit/{visit}"
    detail = client.get(detail_path)
    assert detail.status_code == 200 and 'data-testid="review-form"' in detail.get_data(as_text=True)
    response = client.post(detail_path, data={"state": "rejected", "comment": "没有到户",
                                              "csrf_token": csrf(client, detail_path)})
    assert response.status_code == 302
    html = client.get(detail_path).get_data(as_text=True)
    assert "已保存审核结果。" in html
    [comment] = blocks(html, "review-comment")
    assert "没有到户" in comment and "未通过" in comment
    with session_scope(sessions) as session:
        step = session.scalar(select(ReviewComment))
        assert (step.author_name, step.review_state, step.body) == ("town1", "rejected", "没有到户")
    filtered = client.get("/review/?state=approved").get_data(as_text=True)
    assert blocks(filtered, "submission-row") == []
    assert len(blocks(client.get("/review/?state=rejected&area=210504001001").get_data(as_text=True),
                      "submission-row")) == 1


def test_the_submissions_list_shows_when_filled_the_household_the_sender_and_the_verdict(client, district, visit,
                                                                                       sessions):
    """Issue 17 item 9: the filled time (not only the upload's), household number and head, the sender's display
    name, the evidence verdict and why, the review state."""
    with session_scope(sessions) as session:
        session.execute(update(User).where(User.username == "cadre001").values(display_name="王建国"))
        head = session.scalar(select(Household.head_name).where(Household.number == HH))
    login(client, "town1")
    [row] = blocks(client.get("/review/").get_data(as_text=True), "submission-row")
    assert 'data-testid="filled-at">填表 2026-11-20 10:00<' in row        # meta end, China time
    assert "上传 " in row
    assert f">{HH}<" in row and f'data-testid="head">{head}<' in row
    assert 'data-testid="sender">王建国<' in row and "cadre001" not in row
    assert 'data-testid="verdict">存疑<' in row and 'data-testid="review-state">已接收<' in row
    assert 'data-code="photo_missing"' in row                                # why: the photo did not arrive
    assert re.search(r"<strong>([^<]*)</strong>", row).group(1).startswith("入户走访")  # its title, not its id


@pytest.mark.parametrize("query, listed", [
    ("verdict=questionable", 1), ("verdict=verified", 0), ("verdict=none", 0),
    ("form=household_visit", 1), ("form=housing_assessment", 0),
    ("state=received", 1), ("state=approved", 0),
    ("area=210504001001", 1), ("area=210504001002", 0)])
def test_the_submissions_list_filters(client, district, visit, query, listed):
    login(client, "town1")
    html = client.get(f"/review/?{query}").get_data(as_text=True)
    assert len(blocks(html, "submission-row")) == listed


def test_the_submissions_list_filters_by_the_month_it_arrived_in_china_time(client, district, visit, sessions):
    with session_scope(sessions) as session:
        # 2026-11-30 16:30 UTC is 2026-12-01 00:30 in China: a December upload
        session.execute(update(Submission).values(received_at=dt.datetime(2026, 11, 30, 16, 30, tzinfo=dt.timezone.utc)))
    login(client, "town1")
    assert len(blocks(client.get("/review/?month=2026-12").get_data(as_text=True), "submission-row")) == 1
    assert blocks(client.get("/review/?month=2026-11").get_data(as_text=True), "submission-row") == []
    assert client.get("/review/?month=2026-13").status_code == 400


def test_the_review_form_needs_its_csrf_token(client, district, visit):
    login(client, "town1")
    response = client.post(f"/review/submissions/household_visit/{visit}", data={"state": "approved"})
    assert response.status_code == 400


def test_an_empty_review_shows_the_error_in_place(client, district, visit):
    login(client, "town1")
    path = f"/review/submissions/household_visit/{visit}"
    response = client.post(path, data={"comment": "", "csrf_token": csrf(client, path)})
    assert response.status_code == 400
    assert 'data-testid="review-error"' in response.get_data(as_text=True)


def test_another_towns_supervisor_gets_404_on_the_submission_page(client, district, visit):
    login(client, "town2")
    assert client.get(f"/review/submissions/household_visit/{visit}").status_code == 404
    assert blocks(client.get("/review/").get_data(as_text=True), "submission-row") == []


@pytest.mark.parametrize("path", ["/review/", "/review/conflicts", "/review/quality", "/review/visits"])
def test_cadres_get_403_on_review_pages(client, district, path):
    login(client, "cadre001")
    assert client.get(path).status_code == 403


@pytest.mark.parametrize("path", ["/review/", "/review/conflicts", "/review/quality", "/review/visits"])
def test_review_pages_send_strangers_to_login(client, path):
    response = client.get(path)
    assert response.status_code == 302 and "/login" in response.headers["Location"]


# ---- pages: conflicts --------------------------------------------------------------------------------------

@pytest.fixture
def conflict(client, district, reconcile):
    """Two visits from the same entity version disagreeing on the housing grade: B (cadre001) and C (town1)."""
    a, b = new_instance_id(), new_instance_id()
    assert Collect(client, district["cadre1"]).submit(visit_xml(
        HH, instance_id=a, grade="B", base_version=1, end="2026-11-20T09:00:00+08:00")).status_code == 201
    assert Collect(client, district["town1"]).submit(visit_xml(
        HH, instance_id=b, grade="C", house_safe="no", base_version=1, end="2026-11-20T15:00:00+08:00",
        username="town1")).status_code == 201
    reconcile()
    return a, b


def grade_row(client):
    rows = [r for r in blocks(client.get("/review/conflicts").get_data(as_text=True), "conflict-row")
            if 'data-field="housing_grade"' in r]
    return rows[0] if rows else None


def test_the_conflict_queue_shows_the_values_side_by_side(client, district, conflict):
    login(client, "town1")
    row = grade_row(client)
    assert row is not None and HH in row and "住房安全等级" in row
    entries = blocks(row, "conflict-entry")
    assert [re.search(r'data-testid="conflict-value">([^<]+)<', e).group(1) for e in entries] == ["B", "C"]
    assert "cadre001" in entries[0] and "2026-11-20 09:00" in entries[0]
    assert "town1" in entries[1] and "2026-11-20 15:00" in entries[1]
    current = blocks(row, "conflict-current")[0]
    assert re.search(r'class="value">([^<]+)<', current).group(1) == "C"
    assert 'data-testid="resolve-form"' in row


def test_a_supervisor_resolves_a_conflict_through_the_page(client, district, conflict):
    login(client, "town1")
    row = grade_row(client)
    key = re.search(r'data-key="([^"]+)"', row).group(1)
    b_value = re.search(r'name="choice" value="([^"]+)"', row).group(1)
    assert b_value == "&#34;B&#34;"  # the JSON of the value, escaped in the attribute
    response = client.post(f"/review/conflicts/{key}/resolve", data={
        "choice": '"B"', "note": "现场核实", "csrf_token": csrf(client, "/review/conflicts")})
    assert response.status_code == 302
    html = client.get("/review/conflicts").get_data(as_text=True)
    assert "已解决：住房安全等级 定为“B”。" in html
    assert grade_row(client) is None
    record = client.get(f"/api/v1/households/{HH}", headers=district["town1"]).get_json()
    assert record["fields"]["housing_grade"]["value"] == "B"
    assert record["fields"]["housing_grade"]["source"] == "resolution"
    again = client.post(f"/review/conflicts/{key}/resolve", data={
        "choice": '"C"', "csrf_token": csrf(client, "/review/conflicts")})
    assert again.status_code == 302
    assert "这个冲突已经处理过了。" in client.get("/review/conflicts").get_data(as_text=True)


def test_a_supervisor_may_type_another_value(client, district, conflict):
    login(client, "town1")
    key = re.search(r'data-key="([^"]+)"', grade_row(client)).group(1)
    token = csrf(client, "/review/conflicts")
    empty = client.post(f"/review/conflicts/{key}/resolve", data={"choice": "__other__", "other": " ",
                                                                   "csrf_token": token})
    assert empty.status_code == 302 and grade_row(client) is not None
    client.post(f"/review/conflicts/{key}/resolve", data={"choice": "__other__", "other": "D", "csrf_token": token})
    record = client.get(f"/api/v1/households/{HH}", headers=district["town1"]).get_json()
    assert record["fields"]["housing_grade"]["value"] == "D"


def test_a_value_nobody_recorded_cannot_be_chosen_as_one_of_theirs(client, district, conflict):
    login(client, "town1")
    key = re.search(r'data-key="([^"]+)"', grade_row(client)).group(1)
    client.post(f"/review/conflicts/{key}/resolve", data={"choice": '"A"', "csrf_token": csrf(client, "/review/")})
    assert grade_row(client) is not None


def test_another_towns_conflict_is_404_and_not_listed(client, district, conflict):
    login(client, "town1")
    key = re.search(r'data-key="([^"]+)"', grade_row(client)).group(1)
    client.post("/logout", data={"csrf_token": csrf(client, "/review/")})
    login(client, "town2")
    assert blocks(client.get("/review/conflicts").get_data(as_text=True), "conflict-row") == []
    response = client.post(f"/review/conflicts/{key}/resolve", data={"choice": '"B"',
                                                                      "csrf_token": csrf(client, "/review/")})
    assert response.status_code == 404


# ---- pages: data quality and questionable visits -----------------------------------------------------------

def test_the_quality_list_shows_submissions_that_name_no_known_household(client, district, reconcile):
    unknown = new_instance_id()
    assert Collect(client, district["cadre1"]).submit(
        visit_xml("2105040010019999", instance_id=unknown)).status_code == 201
    reconcile()
    login(client, "town1")
    html = client.get("/review/quality").get_data(as_text=True)
    assert 'data-testid="quality-list"' in html
    [item] = blocks(html, "unattached-submission")
    assert "2105040010019999" in item and "户编号不在名单中" in item
    assert f"/review/submissions/household_visit/{unknown}" in item
    assert 'data-testid="failed-jobs"' not in html  # admins only
    login(client, "town2")
    assert blocks(client.get("/review/quality").get_data(as_text=True), "unattached-submission") == []


def test_questionable_visits_of_the_month_with_readable_reasons(app, client, district, visit, sessions):
    with session_scope(sessions) as session:
        assert session.scalar(select(Visit.verdict)) == "questionable"  # no photo arrived
    login(client, "town1")
    html = client.get(f"/review/visits?month={MONTH}").get_data(as_text=True)
    [card] = blocks(html, "questionable-visit")
    assert HH in card and "存疑" in card and "尚未上传" in card
    if "households.file_page" in app.view_functions:  # the household file links once that page exists
        assert f'href="/households/{HH}"' in card
    assert blocks(client.get("/review/visits?month=2026-10").get_data(as_text=True), "questionable-visit") == []
    english = client.get(f"/review/visits?month={MONTH}&lang=en").get_data(as_text=True)
    [card] = blocks(english, "questionable-visit")
    assert "has not arrived" in card and "Questionable" in card
    login(client, "town2")
    assert blocks(client.get(f"/review/visits?month={MONTH}").get_data(as_text=True), "questionable-visit") == []


def test_review_pages_switch_to_english(client, district, visit):
    login(client, "town1")
    html = client.get("/review/?lang=en").get_data(as_text=True)
    assert "Review state" in html and "Received" in html and "Conflicts" in html
    assert "审核状态" not in html
    detail = client.get(f"/review/submissions/household_visit/{visit}").get_data(as_text=True)
    assert "Review history" in detail  # the language is remembered in a cookie


def test_a_bad_month_is_400(client, district):
    login(client, "town1")
    assert client.get("/review/visits?month=11-2026").status_code == 400
