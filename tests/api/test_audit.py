"""The audit log: every privileged action is recorded in its own transaction with who, when, from where and
what changed (never a password or a token); admins read it on /admin/audit and at GET /api/v1/audit."""
import io
import json
import re
from pathlib import Path

import pytest
from sqlalchemy import delete, select, update

from server.db import session_scope
from server.models import AuditEntry, User
from support import Collect, login, new_instance_id, visit_xml

HH = "2105040010010001"        # village 1 (town 1), cadre001
SAMPLE_ROSTER = Path(__file__).resolve().parents[2] / "sync" / "samples" / "roster.csv"
ELSEWHERE = {"REMOTE_ADDR": "203.0.113.5"}


def entries(sessions, action=None):
    with session_scope(sessions) as session:
        statement = select(AuditEntry).order_by(AuditEntry.id)
        if action:
            statement = statement.where(AuditEntry.action == action)
        return [{"actor": e.actor, "actor_id": e.actor_id, "address": e.address, "action": e.action,
                 "target": e.target, "details": e.details, "at": e.at} for e in session.scalars(statement)]


def csrf(client, path):
    return re.search(r'name="csrf_token" value="([^"]+)"', client.get(path).get_data(as_text=True)).group(1)


def test_user_changes_on_the_admin_pages_are_recorded_without_the_password(client, sample_district, admin,
                                                                              sessions):
    login(client, "admin")
    token = csrf(client, "/admin/users")
    assert client.post("/admin/users", data={"username": "newcadre", "role": "cadre", "areas": "210504001001",
                                             "password": "first-password-1", "csrf_token": token},
                       environ_base=ELSEWHERE).status_code == 302
    with session_scope(sessions) as session:
        user_id = session.scalar(select(User.id).where(User.username == "newcadre"))
    client.post(f"/admin/users/{user_id}/active", data={"active": "0", "csrf_token": token})
    client.post(f"/admin/users/{user_id}/password", data={"password": "second-password-2", "csrf_token": token})
    logged = entries(sessions)
    assert [e["action"] for e in logged] == ["user.create", "user.deactivate", "user.password_reset"]
    created = logged[0]
    assert created["actor"] == "admin" and created["address"] == "203.0.113.5" and created["target"] == "user:newcadre"
    assert created["details"] == {"role": "cadre", "display_name": "newcadre", "areas": ["210504001001"],
                                  "duty": "other"}
    assert all(e["actor_id"] is not None and e["at"] is not None for e in logged)
    assert "password" not in json.dumps(logged, default=str).replace("password_reset", "")


def test_device_tokens_created_and_revoked_are_recorded_without_the_token(client, admin, sessions):
    login(client, "admin")
    page = client.post("/users/1/devices", data={"name": "张三的手机", "csrf_token": csrf(client, "/users/1/devices")})
    token = re.search(r'data-testid="server-url">[^<]*/key/([^<]+)<', page.get_data(as_text=True)).group(1)
    device_id = entries(sessions, "device.create")[0]["target"].split(":")[1]
    client.post(f"/users/1/devices/{device_id}/revoke", data={"csrf_token": csrf(client, "/users/1/devices")})
    client.post(f"/users/1/devices/{device_id}/revoke", data={"csrf_token": csrf(client, "/users/1/devices")})
    logged = entries(sessions)
    assert [(e["action"], e["details"]) for e in logged] == [
        ("device.create", {"user": "admin", "name": "张三的手机"}), ("device.revoke", {"user": "admin", "name": "张三的手机"})]
    assert token not in json.dumps(logged, default=str)


def test_forms_published_and_their_state_changes_are_recorded(client, publish, admin, sessions):
    publish()
    assert client.patch("/api/v1/forms/test_visit", json={"state": "closing"}, headers=admin).status_code == 200
    logged = entries(sessions)
    assert [(e["action"], e["target"]) for e in logged] == [("form.publish", "form:test_visit"),
                                                           ("form.state", "form:test_visit")]
    assert logged[0]["details"]["version"] == "1" and logged[0]["details"]["file"] == "form.xlsx"
    assert logged[1]["details"] == {"from": "open", "to": "closing"}


def test_a_refused_roster_import_leaves_no_entry(client, areas, admin, sessions):
    response = client.post("/api/v1/roster", data={"file": (io.BytesIO("户编号\n1\n".encode()), "bad.csv")},
                           headers=admin, content_type="multipart/form-data")
    assert response.status_code == 400
    assert entries(sessions) == []


def test_imports_reviews_resolutions_and_locations_are_recorded(client, sample_district, admin, sessions,
                                                                reconcile):
    town1 = sample_district["town1"]
    a, b = new_instance_id(), new_instance_id()
    assert Collect(client, sample_district["cadre1"]).submit(visit_xml(
        HH, instance_id=a, grade="B", end="2026-11-20T09:00:00+08:00")).status_code == 201
    assert Collect(client, town1).submit(visit_xml(
        HH, instance_id=b, grade="C", end="2026-11-20T15:00:00+08:00", username="town1")).status_code == 201
    reconcile()
    review = client.post(f"/api/v1/submissions/household_visit/{a}/review",
                         json={"state": "approved", "comment": "好"}, headers=town1)
    assert review.status_code == 200
    grade = next(c for c in client.get("/api/v1/conflicts", headers=town1).get_json() if c["field"] == "housing_grade")
    assert client.post(f"/api/v1/conflicts/{grade['key']}/resolve", json={"value": "B", "note": "现场核实"},
                       headers=town1).status_code == 200
    assert client.put(f"/api/v1/households/{HH}/location", json={"latitude": 41.3, "longitude": 123.8},
                      headers=town1).status_code == 200
    assert client.post("/api/v1/roster", data={"file": (io.BytesIO(SAMPLE_ROSTER.read_bytes()), "r.csv")},
                       headers=admin, content_type="multipart/form-data").status_code == 200
    logged = {e["action"]: e for e in entries(sessions)}
    assert logged["submission.review"]["target"] == f"submission:household_visit/{a}"
    assert logged["submission.review"]["details"] == {"from": "received", "to": "approved", "comment": "好"}
    assert logged["submission.review"]["actor"] == "town1"
    assert logged["conflict.resolve"]["details"] == {"household": HH, "field": "housing_grade", "value": "B",
                                                     "note": "现场核实"}
    assert logged["household.location"]["target"] == f"household:{HH}"
    assert logged["household.location"]["details"]["to"] == [41.3, 123.8]
    assert logged["roster.import"]["actor"] == "admin" and logged["roster.import"]["details"]["rows"] > 100


def test_the_command_line_records_as_cli(runner, areas, sessions):
    result = runner.invoke(args=["users", "create", "fromcli", "--role", "supervisor", "--area", "210504001",
                                 "--password-stdin"], input="a-long-password\n")
    assert result.exit_code == 0, result.output
    (created,) = entries(sessions, "user.create")
    assert created["actor"] == "cli" and created["actor_id"] is None and created["address"] is None
    assert created["details"] == {"role": "supervisor", "display_name": "fromcli", "areas": ["210504001"],
                                  "duty": "other"}


def test_a_refused_action_leaves_no_entry(client, admin, sessions):
    login(client, "admin")
    response = client.post("/admin/users", data={"username": "x", "role": "cadre", "password": "short",
                                                 "csrf_token": csrf(client, "/admin/users")})
    assert response.status_code == 400
    assert entries(sessions) == []


@pytest.fixture
def logged(client, publish, admin, make_user):
    """Three entries: form.publish and form.state by admin, form.state by another admin."""
    publish()
    client.patch("/api/v1/forms/test_visit", json={"state": "closing"}, headers=admin)
    other = make_user("admin2", "admin")
    client.patch("/api/v1/forms/test_visit", json={"state": "open"}, headers=other)
    return admin


def test_the_api_lists_entries_newest_first_with_filters(client, logged):
    everything = client.get("/api/v1/audit", headers=logged).get_json()
    assert everything["total"] == 3 and [e["action"] for e in everything["items"]] == [
        "form.state", "form.state", "form.publish"]
    assert everything["items"][0]["actor"] == "admin2" and everything["items"][0]["details"] == {
        "from": "closing", "to": "open"}
    by_action = client.get("/api/v1/audit?action=form.publish", headers=logged).get_json()
    assert [e["action"] for e in by_action["items"]] == ["form.publish"]
    by_actor = client.get("/api/v1/audit?actor=admin2", headers=logged).get_json()
    assert by_actor["total"] == 1
    assert client.get("/api/v1/audit?from=2000-01-01&to=2000-01-31", headers=logged).get_json()["total"] == 0
    assert client.get("/api/v1/audit?from=2000-01-01", headers=logged).get_json()["total"] == 3
    page = client.get("/api/v1/audit?limit=1&offset=1", headers=logged).get_json()
    assert page["total"] == 3 and len(page["items"]) == 1 and page["items"][0]["actor"] == "admin"


@pytest.mark.parametrize("query", ["limit=0", "limit=501", "offset=-1", "offset=99999999999999999999",
                                   "action=user.explode", "from=2026-13-01", "to=99999-01-01"])
def test_the_api_refuses_out_of_bounds_filters(client, logged, query):
    response = client.get(f"/api/v1/audit?{query}", headers=logged)
    assert response.status_code == 400 and response.get_json()["code"] == "request.invalid"


def test_only_admins_read_the_audit_log(client, logged, sample_district):
    for who in ("town1", "cadre1"):
        assert client.get("/api/v1/audit", headers=sample_district[who]).status_code == 403
    login(client, "town1")
    assert client.get("/admin/audit/").status_code == 403


def test_the_admin_page_shows_and_filters_the_entries(client, logged):
    login(client, "admin")
    html = client.get("/admin/audit/").get_data(as_text=True)
    assert html.count('data-testid="audit-row"') == 3 and "发布表单" in html and "审计日志" in html
    filtered = client.get("/admin/audit/?action=form.state&actor=admin2").get_data(as_text=True)
    assert filtered.count('data-testid="audit-row"') == 1 and "admin2" in filtered
    none = client.get("/admin/audit/?from=2000-01-01&to=2000-01-02").get_data(as_text=True)
    assert 'data-testid="empty"' in none
    english = client.get("/admin/audit/?lang=en").get_data(as_text=True)
    assert "Audit log" in english and "Form published" in english
    assert client.get("/admin/audit/?from=yesterday").status_code == 400


def test_the_admin_page_pages_through_many_entries(client, admin, sessions):
    with session_scope(sessions) as session:
        session.add_all(AuditEntry(actor="cli", action="user.create", target=f"user:u{n}") for n in range(120))
    login(client, "admin")
    first = client.get("/admin/audit/").get_data(as_text=True)
    assert first.count('data-testid="audit-row"') == 50 and "user:u119" in first
    last = client.get("/admin/audit/?page=3").get_data(as_text=True)
    assert last.count('data-testid="audit-row"') == 20 and "user:u0<" in last
    assert client.get("/admin/audit/?page=99999999999999999999").status_code == 400  # as on every page


def test_postgresql_refuses_to_change_or_delete_an_entry(app, sessions, database_url):
    if not database_url.startswith("postgresql"):
        pytest.skip("the append-only trigger is PostgreSQL's")
    with session_scope(sessions) as session:
        session.add(AuditEntry(actor="cli", action="user.create", target="user:x"))
    for statement in (update(AuditEntry).values(actor="someone-else"), delete(AuditEntry)):
        with pytest.raises(Exception, match="append-only"):
            with session_scope(sessions) as session:
                session.execute(statement)
    with session_scope(sessions) as session:
        assert session.scalar(select(AuditEntry.actor)) == "cli"


def test_the_pages_record_reviews_resolutions_and_imports_as_the_api_does(client, sample_district, admin, sessions,
                                                                        reconcile):
    a, b = new_instance_id(), new_instance_id()
    Collect(client, sample_district["cadre1"]).submit(visit_xml(HH, instance_id=a, grade="B",
                                                                end="2026-11-20T09:00:00+08:00"))
    Collect(client, sample_district["town1"]).submit(visit_xml(HH, instance_id=b, grade="C", username="town1",
                                                               end="2026-11-20T15:00:00+08:00"))
    reconcile()
    login(client, "town1")
    detail = f"/review/submissions/household_visit/{a}"
    assert client.post(detail, data={"state": "has_issues", "csrf_token": csrf(client, detail)}).status_code == 302
    key = re.search(r'/review/conflicts/([^/"]+)/resolve', client.get("/review/conflicts").get_data(as_text=True))
    assert client.post(f"/review/conflicts/{key.group(1)}/resolve",
                       data={"choice": '"B"', "csrf_token": csrf(client, "/review/")}).status_code == 302
    client.post("/logout", data={"csrf_token": csrf(client, "/review/")})
    login(client, "admin")
    areas_csv = "代码,名称,上级代码,层级\n210504001003,新村,210504001,村\n".encode()
    assert client.post("/admin/areas", data={"file": (io.BytesIO(areas_csv), "areas.csv"),
                                             "csrf_token": csrf(client, "/admin/areas")}).status_code == 200
    logged = {e["action"]: e for e in entries(sessions)}
    assert logged["submission.review"]["details"] == {"from": "received", "to": "has_issues"}
    assert logged["conflict.resolve"]["details"]["value"] == "B" and logged["conflict.resolve"]["actor"] == "town1"
    assert logged["areas.import"]["actor"] == "admin" and logged["areas.import"]["details"]["created"] == 1
