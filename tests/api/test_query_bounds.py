"""Hostile query and body values are a 400 that says what is wrong, never a 500: offsets and page numbers past
any integer, negative or not numbers, months out of range or malformed, conflict resolutions that are not a value
of the field."""
import re

import pytest
from sqlalchemy import select

from server.db import session_scope
from support import Collect, login, visit_xml
from sync.records import Conflict

HH = "2105040010010001"
HUGE = "99999999999999999999"

API_LISTS = ["/api/v1/submissions", "/api/v1/households", "/api/v1/conflicts", "/api/v1/quality",
             "/api/v1/coverage/not-visited", "/api/v1/coverage/households", "/api/v1/out-of-area", "/api/v1/audit"]
API_MONTHS = ["/api/v1/coverage", "/api/v1/coverage/not-visited", "/api/v1/coverage/households", "/api/v1/map"]
PAGE_LISTS = {"page": ["/households/", "/review/", "/review/conflicts", "/review/quality", "/review/visits",
                      "/review/out-of-area", "/admin/users", "/admin/audit/"],
              "offset": ["/coverage/not-visited", "/coverage/households"]}
PAGE_MONTHS = ["/coverage/", "/coverage/not-visited", "/coverage/households", "/households/", "/map/",
               "/review/visits"]
BAD_NUMBERS = [HUGE, "-1", "-" + HUGE, "abc", "1.5", "1e3", " ", "0x10"]
BAD_MONTHS = ["9999-12", "2026-11\n", "0000-01", "0001-01", "2026-13", "2026-00", "26-11", "2026-1", "2026-11-01", "abc",
              "１２３４-01"]


def assert_json_400(response, field):
    assert response.status_code == 400, response.get_data(as_text=True)
    body = response.get_json()
    assert body["code"] == "request.invalid" and field in body["details"]


def assert_page_400(response):
    assert response.status_code == 400, response.get_data(as_text=True)[:300]
    assert response.mimetype == "text/html"
    assert "出错了" in response.get_data(as_text=True)


@pytest.mark.parametrize("value", BAD_NUMBERS)
@pytest.mark.parametrize("path", API_LISTS)
@pytest.mark.parametrize("name", ["offset", "limit"])
def test_list_apis_refuse_bad_offsets_and_limits(client, admin, sample_district, path, name, value):
    assert_json_400(client.get(path, query_string={name: value}, headers=admin), name)


@pytest.mark.parametrize("path", API_LISTS)
def test_list_apis_refuse_a_limit_past_their_bound(client, admin, sample_district, path):
    assert_json_400(client.get(path, query_string={"limit": "100000"}, headers=admin), "limit")


@pytest.mark.parametrize("value", BAD_MONTHS)
@pytest.mark.parametrize("path", API_MONTHS)
def test_apis_refuse_bad_months(client, admin, sample_district, path, value):
    assert_json_400(client.get(path, query_string={"month": value}, headers=admin), "month")


@pytest.mark.parametrize("value", BAD_NUMBERS + ["0"])
@pytest.mark.parametrize("name, path", [(name, path) for name, paths in PAGE_LISTS.items() for path in paths])
def test_pages_refuse_bad_page_numbers_and_offsets(client, admin, sample_district, name, path, value):
    if name == "offset" and value == "0":
        return  # the first page
    login(client, "admin")
    assert_page_400(client.get(path, query_string={name: value}))


@pytest.mark.parametrize("value", BAD_MONTHS)
@pytest.mark.parametrize("path", PAGE_MONTHS)
def test_pages_refuse_bad_months(client, admin, sample_district, path, value):
    login(client, "admin")
    assert_page_400(client.get(path, query_string={"month": value}))


@pytest.mark.parametrize("path", ["/coverage/?month=2999-12", "/coverage/?month=1970-01", "/map/?month=1970-01",
                                  "/households/?page=100000", "/coverage/households?offset=1000000"])
def test_the_edges_of_the_bounds_are_pages(client, admin, sample_district, path):
    login(client, "admin")
    assert client.get(path).status_code == 200


@pytest.fixture
def conflict(client, sample_district, reconcile, sessions):
    """Two visits from the same entity version that disagree on the housing grade."""
    device = Collect(client, sample_district["cadre1"])
    for instance, grade, end in (("uuid:c1", "A", "2026-11-20T10:00:00+08:00"),
                                 ("uuid:c2", "B", "2026-11-21T10:00:00+08:00")):
        assert device.submit(visit_xml(HH, instance_id=instance, grade=grade, end=end)).status_code == 201
    reconcile()
    with session_scope(sessions) as session:
        found = session.scalars(select(Conflict).where(Conflict.field == "housing_grade")).one()
        return found.key


@pytest.mark.parametrize("value", [{"a": [1, 2]}, [1, 2], "C" * 5000, float("inf"), True, 7])
def test_a_resolution_must_be_one_of_the_values_in_conflict(client, sample_district, conflict, value):
    headers = sample_district["town1"]
    response = client.post(f"/api/v1/conflicts/{conflict}/resolve", json={"value": value, "note": "x"},
                           headers=headers)
    assert response.status_code == 400, response.get_data(as_text=True)
    assert response.get_json()["code"] == "conflict.value_invalid"
    assert client.get(f"/api/v1/households/{HH}", headers=headers).status_code == 200
    login(client, "town1")
    assert client.get(f"/households/{HH}").status_code == 200


def test_a_resolution_to_a_value_in_conflict_is_accepted(client, sample_district, conflict):
    headers = sample_district["town1"]
    response = client.post(f"/api/v1/conflicts/{conflict}/resolve", json={"value": "A"}, headers=headers)
    assert response.status_code == 200, response.get_data(as_text=True)
    household = client.get(f"/api/v1/households/{HH}", headers=headers).get_json()
    assert household["fields"]["housing_grade"]["value"] == "A"


def test_the_conflict_page_says_why_a_typed_value_is_refused(client, sample_district, conflict):
    login(client, "town1")
    page = client.get("/review/conflicts").get_data(as_text=True)
    token = re.search(r'name="csrf_token" value="([^"]+)"', page).group(1)
    response = client.post(f"/review/conflicts/{conflict}/resolve", follow_redirects=True,
                           data={"csrf_token": token, "choice": "__other__", "other": "C" * 5000})
    assert response.status_code == 200
    assert "解决冲突的值应为冲突中的一个值" in response.get_data(as_text=True)
    assert client.get(f"/households/{HH}").status_code == 200
