"""The visiting duties on pages: the admin sets an account's 走访身份 when creating it and later (audited), and the
coverage pages' 走访职责 tab lists, per village, who has not met their duty, in Chinese and in English."""
import re

import pytest
from sqlalchemy import select

from server.db import session_scope
from server.models import AuditEntry, User
from support import Collect, login, visit_xml

VILLAGE, TOWN, OTHER_TOWN = "210504001001", "210504001", "210504002"
YAN = "2105040010010007"


def csrf(client, path):
    return re.search(r'name="csrf_token" value="([^"]+)"', client.get(path).get_data(as_text=True)).group(1)


@pytest.fixture
def admin_client(client, admin):
    login(client, "admin")
    return client


def test_the_admin_creates_a_user_with_a_duty_and_changes_it(admin_client, sample_district, sessions):
    response = admin_client.post("/admin/users", data={
        "username": "lishuji", "display_name": "李书记", "role": "cadre", "duty": "village_secretary",
        "areas": [VILLAGE], "password": "a-long-password", "csrf_token": csrf(admin_client, "/admin/users")})
    assert response.status_code == 302, response.get_data(as_text=True)
    listing = admin_client.get("/admin/users").get_data(as_text=True)
    assert re.search(r'data-username="lishuji".*?data-duty="village_secretary">村书记<', listing, re.S)
    with session_scope(sessions) as session:
        user_id = session.scalar(select(User.id).where(User.username == "lishuji"))
    token = csrf(admin_client, "/admin/users")
    changed = admin_client.post(f"/admin/users/{user_id}/duty", data={"duty": "town_secretary", "csrf_token": token})
    assert changed.status_code == 302
    assert admin_client.post(f"/admin/users/{user_id}/duty",
                             data={"duty": "mayor", "csrf_token": token}).status_code == 400
    assert admin_client.post("/admin/users/99999/duty",
                             data={"duty": "other", "csrf_token": token}).status_code == 404
    with session_scope(sessions) as session:
        assert session.scalar(select(User.duty).where(User.id == user_id)) == "town_secretary"
        audit = session.scalars(select(AuditEntry).where(AuditEntry.action == "user.duty")).all()
        assert [(a.target, a.details) for a in audit] == [
            ("user:lishuji", {"from": "village_secretary", "to": "town_secretary"})]


def test_an_unknown_duty_on_creation_is_refused_in_place(admin_client, sample_district):
    response = admin_client.post("/admin/users", data={
        "username": "wangwu", "role": "cadre", "duty": "mayor", "areas": [VILLAGE], "password": "a-long-password",
        "csrf_token": csrf(admin_client, "/admin/users")})
    assert response.status_code == 400 and "请选择走访身份" in response.get_data(as_text=True)


def test_only_an_admin_changes_a_duty(client, sample_district, sessions):
    login(client, "town1")
    with session_scope(sessions) as session:
        user_id = session.scalar(select(User.id).where(User.username == "cadre001"))
    token = csrf(client, "/coverage/")
    assert client.post(f"/admin/users/{user_id}/duty", data={"duty": "other", "csrf_token": token}).status_code == 403


@pytest.fixture
def secretary_visit(client, runner, sample_district, make_user, work):
    vsec = make_user("vsec", "cadre", (sample_district["codes"][VILLAGE],))
    assert runner.invoke(args=["users", "set-duty", "vsec", "village_secretary"]).exit_code == 0
    assert Collect(client, vsec).submit(visit_xml(YAN, instance_id="uuid:yan")).status_code == 201
    work()
    return sample_district


def test_the_duties_tab_lists_a_villages_households_left_in_chinese_and_english(client, secretary_visit):
    login(client, "town1")
    html = client.get(f"/coverage/duties?month=2026-11&area={VILLAGE}").get_data(as_text=True)
    assert 'data-testid="tab-duties"' in html and 'aria-current="page" data-testid="tab-duties"' in html
    assert "走访职责" in html and "村书记" in html and "18 户尚未遍访" in html
    listed = re.search(r'data-testid="secretary-missing-village_secretary">(.*?)</ul>', html, re.S).group(1)
    assert YAN not in listed and listed.count("<li") == 18
    assert re.search(r'data-testid="cadre-behind" data-username="cadre001"', html)
    english = client.get(f"/coverage/duties?month=2026-11&area={VILLAGE}&lang=en").get_data(as_text=True)
    assert "Visiting duties" in english and "Village party secretary" in english and "18 households not yet visited" in english


def test_above_a_village_the_tab_links_each_village_and_lists_no_households(client, secretary_visit):
    login(client, "town1")
    html = client.get("/coverage/duties?month=2026-11").get_data(as_text=True)
    assert html.count('data-testid="duty-village"') == 2
    assert f'/coverage/duties?month=2026-11&amp;area={VILLAGE}' in html
    assert "secretary-missing-" not in html


def test_the_coverage_page_has_the_duties_tab(client, sample_district):
    login(client, "town1")
    html = client.get("/coverage/?month=2026-11").get_data(as_text=True)
    assert 'href="/coverage/duties?month=2026-11&amp;area=210504001"' in html


@pytest.mark.parametrize("query, status", [(f"area={OTHER_TOWN}", 404), ("month=2026-13", 400)])
def test_another_area_or_a_bad_month_is_a_readable_error(client, sample_district, query, status):
    login(client, "town1")
    response = client.get(f"/coverage/duties?{query}")
    assert response.status_code == status and "<html" in response.get_data(as_text=True)
