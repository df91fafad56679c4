"""Per-user API tokens (issue 16): made and revoked by the user on a page, shown once, stored hashed, sent as
`Authorization: Bearer`, acting as the user with their role and areas; errors stay Problem JSON."""
import hashlib
import re

import pytest
from sqlalchemy import select

from server.db import session_scope
from server.models import ApiToken, AuditEntry, User
from support import new_instance_id, submission_xml

A = "2105040010010001"  # household in village 1-1
B = "2105040020010001"  # household in village 2-1


def csrf(client, path):
    return re.search(r'name="csrf_token" value="([^"]+)"', client.get(path).get_data(as_text=True)).group(1)


def log_in(client, username, password="secret-pass"):
    client.post("/logout", data={"csrf_token": csrf(client, "/login")})
    response = client.post("/login", data={"username": username, "password": password,
                                           "csrf_token": csrf(client, "/login")})
    assert response.status_code == 302


def user_id(sessions, username):
    with session_scope(sessions) as session:
        return session.scalar(select(User.id).where(User.username == username))


def make_token(client, uid, name="月报脚本"):
    path = f"/users/{uid}/api-tokens"
    page = client.post(path, data={"name": name, "csrf_token": csrf(client, path)})
    assert page.status_code == 200
    return re.search(r'data-testid="token-secret">([^<]+)<', page.get_data(as_text=True)).group(1)


def bearer(token):
    return {"Authorization": f"Bearer {token}"}


@pytest.fixture
def world(collect, areas, make_household, make_user):
    make_household(A, areas["village11"])
    make_household(B, areas["village21"])
    for number in (A, B):
        assert collect.submit(submission_xml(instance_id=new_instance_id(), household=number)).status_code == 201
    make_user("town1", "supervisor", (areas["town1"],))
    make_user("town2", "supervisor", (areas["town2"],))


def test_a_token_is_shown_once_stored_hashed_and_acts_as_its_user_in_their_areas(client, world, sessions):
    uid = user_id(sessions, "town1")
    log_in(client, "town1")
    token = make_token(client, uid)
    assert token.startswith("zf_") and len(token) > 40
    page = client.get(f"/users/{uid}/api-tokens").get_data(as_text=True)
    assert token not in page and token[:10] in page  # listed by its first characters only, never again in full
    with session_scope(sessions) as session:
        row = session.scalars(select(ApiToken)).one()
        assert row.token_sha256 == hashlib.sha256(token.encode()).hexdigest() and row.last_used_at is None
        assert all(token not in str(e.details) for e in session.scalars(select(AuditEntry)))
    client.post("/logout", data={"csrf_token": csrf(client, "/login")})
    listed = client.get("/api/v1/submissions", headers=bearer(token))
    assert listed.status_code == 200
    assert {s["household_number"] for s in listed.get_json()} == {A}  # town 1's household only
    assert client.get(f"/api/v1/households/{B}", headers=bearer(token)).status_code == 404
    assert client.get("/api/v1/audit", headers=bearer(token)).status_code == 403  # a supervisor's role
    with session_scope(sessions) as session:
        assert session.scalars(select(ApiToken)).one().last_used_at is not None


def test_a_script_writes_with_its_token_and_needs_no_csrf_token(client, world, sessions):
    uid = user_id(sessions, "town1")
    log_in(client, "town1")
    token = make_token(client, uid)
    client.post("/logout", data={"csrf_token": csrf(client, "/login")})
    listed = client.get("/api/v1/submissions", headers=bearer(token)).get_json()
    instance_id = listed[0]["instance_id"]
    reviewed = client.post(f"/api/v1/submissions/test_visit/{instance_id}/review", headers=bearer(token),
                           json={"state": "approved", "comment": "脚本审核"})
    assert reviewed.status_code == 200, reviewed.get_json()
    with session_scope(sessions) as session:
        entry = session.scalars(select(AuditEntry).where(AuditEntry.action == "submission.review")).one()
        assert entry.actor == "town1"  # the token's user is the author


@pytest.mark.parametrize("header", ["Bearer zf_not-a-token", "Bearer ", "Bearer zf_" + "x" * 5000])
def test_a_wrong_token_is_a_401_problem_with_a_bearer_challenge(client, world, header):
    response = client.get("/api/v1/submissions", headers={"Authorization": header})
    assert response.status_code == 401
    assert response.get_json()["code"] in ("auth.api_token_invalid", "auth.required")
    assert response.headers["WWW-Authenticate"].split()[0] in ("Bearer", "Basic")
    assert response.get_json()["message_en"]


def test_revoked_tokens_and_deactivated_users_no_longer_work(client, world, sessions, admin):
    uid = user_id(sessions, "town1")
    log_in(client, "town1")
    first, second = make_token(client, uid, "一"), make_token(client, uid, "二")
    assert client.get("/api/v1/submissions", headers=bearer(first)).status_code == 200
    with session_scope(sessions) as session:
        first_id = session.scalar(select(ApiToken.id).where(ApiToken.name == "一"))
    path = f"/users/{uid}/api-tokens"
    assert client.post(f"{path}/{first_id}/revoke", data={"csrf_token": csrf(client, path)}).status_code == 302
    refused = client.get("/api/v1/submissions", headers=bearer(first))
    assert refused.status_code == 401 and refused.get_json()["code"] == "auth.api_token_invalid"
    assert client.get("/api/v1/submissions", headers=bearer(second)).status_code == 200
    with session_scope(sessions) as session:
        session.scalar(select(User).where(User.username == "town1")).active = False
    assert client.get("/api/v1/submissions", headers=bearer(second)).status_code == 401


def test_only_the_owner_makes_tokens_others_cannot_see_them_and_an_admin_can_revoke(client, world, sessions,
                                                                                    admin):
    town1, town2, admin_id = (user_id(sessions, n) for n in ("town1", "town2", "admin"))
    log_in(client, "town1")
    token = make_token(client, town1)
    with session_scope(sessions) as session:
        token_id = session.scalar(select(ApiToken.id))
    log_in(client, "town2")
    other = f"/users/{town1}/api-tokens"
    assert client.get(other).status_code == 404
    own = f"/users/{town2}/api-tokens"
    assert client.post(f"{other}/{token_id}/revoke", data={"csrf_token": csrf(client, own)}).status_code == 404
    assert client.post(f"{own}/{token_id}/revoke", data={"csrf_token": csrf(client, own)}).status_code == 404
    assert client.get("/api/v1/submissions", headers=bearer(token)).status_code == 200
    log_in(client, "admin", "secret-pass")
    assert "月报脚本" in client.get(other).get_data(as_text=True)
    made = client.post(other, data={"name": "冒名", "csrf_token": csrf(client, f"/users/{admin_id}/api-tokens")})
    assert made.status_code == 403  # an admin never makes a token that acts as someone else
    assert client.post(f"{other}/{token_id}/revoke",
                       data={"csrf_token": csrf(client, other)}).status_code == 302
    assert client.get("/api/v1/submissions", headers=bearer(token)).status_code == 401
    with session_scope(sessions) as session:
        actions = [e.action for e in session.scalars(select(AuditEntry).order_by(AuditEntry.id))]
        assert actions.count("api_token.create") == 1 and actions.count("api_token.revoke") == 1


def test_an_account_holds_a_bounded_number_of_live_tokens(client, world, sessions):
    from server.api_tokens import MAX_LIVE_TOKENS
    uid = user_id(sessions, "town1")
    log_in(client, "town1")
    for n in range(MAX_LIVE_TOKENS):
        make_token(client, uid, f"t{n}")
    path = f"/users/{uid}/api-tokens"
    refused = client.post(path, data={"name": "多一个", "csrf_token": csrf(client, path)})
    assert refused.status_code == 409
    assert "最多" in refused.get_data(as_text=True)


def test_the_openapi_document_names_the_bearer_scheme(client, world):
    spec = client.get("/api/v1/openapi.json").get_json()
    assert spec["components"]["securitySchemes"]["bearer"] == {
        "type": "http", "scheme": "bearer", "description": "a user's API token, made on /users/<id>/api-tokens"}
    assert {"bearer": []} in spec["security"]
