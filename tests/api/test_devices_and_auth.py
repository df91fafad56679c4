"""Device tokens set up by QR code, the Basic-auth credential cache, log in and CSRF."""
import re
from urllib.parse import urlparse

import pytest

from server import passwords
from server.collect_qr import collect_settings, decode_settings, encode_settings, qr_png_data_uri
from support import submission_xml


def login(client, username="admin", password="secret-pass"):
    page = client.get("/login").get_data(as_text=True)
    token = re.search(r'name="csrf_token" value="([^"]+)"', page).group(1)
    return client.post("/login", data={"username": username, "password": password, "csrf_token": token})


def csrf(client, path):
    return re.search(r'name="csrf_token" value="([^"]+)"', client.get(path).get_data(as_text=True)).group(1)


def new_device(client, user_id=1):
    page = client.post(f"/users/{user_id}/devices",
                       data={"name": "手机", "csrf_token": csrf(client, f"/users/{user_id}/devices")})
    assert page.status_code == 200
    html = page.get_data(as_text=True)
    server_url = re.search(r'data-testid="server-url">([^<]+)<', html).group(1)
    return html, urlparse(server_url).path  # "/key/<token>"


def test_qr_page_creates_a_device_whose_token_works(client, admin, collect):
    assert login(client).status_code == 302
    html, prefix = new_device(client)
    assert "<svg" in html and 'data-testid="collect-qr"' in html
    assert re.fullmatch(r"/key/[A-Za-z0-9_-]{40,}", prefix)
    listed = client.get(f"{prefix}/formList")  # no Basic auth: the token is the credential
    assert listed.status_code == 200
    assert f"<downloadUrl>http://localhost{prefix}/forms/test_visit.xml</downloadUrl>" in listed.get_data(as_text=True)
    assert client.get(f"{prefix}/forms/test_visit.xml").status_code == 200
    assert client.head(f"{prefix}/submission").status_code == 204
    from support import Collect
    assert Collect(client, {}, prefix).submit(submission_xml()).status_code == 201


def test_the_qr_page_offers_the_same_code_as_an_image_to_save(client, admin, collect):
    """Issue 17 item 7: a cadre setting up the phone the page is on saves the image and imports it in Collect."""
    import base64
    import io
    import html as entities

    from PIL import Image
    login(client)
    html, _prefix = new_device(client)
    href = entities.unescape(re.search(r'href="([^"]+)" download="[^"]+\.png" data-testid="save-qr"', html).group(1))
    server_url = re.search(r'data-testid="server-url">([^<]+)<', html).group(1)
    assert href == qr_png_data_uri(encode_settings(collect_settings(server_url, "走访 Zoufang")))
    image = Image.open(io.BytesIO(base64.b64decode(href.removeprefix("data:image/png;base64,"))))
    assert image.format == "PNG" and image.width >= 200


def test_a_devices_last_use_is_written_at_most_once_a_minute(client, admin, collect, sessions):
    import datetime as dt

    from server.db import session_scope
    from server.models import Device
    from support import Collect

    def last_used():
        with session_scope(sessions) as session:
            return session.get(Device, 1).last_used_at

    login(client)
    _, prefix = new_device(client)
    phone = Collect(client, {}, prefix)
    assert last_used() is None
    assert phone.submit(submission_xml()).status_code == 201
    first = last_used()
    assert first is not None
    assert phone.submit(submission_xml()).status_code == 201
    assert last_used() == first  # within the minute: not written again
    with session_scope(sessions) as session:
        session.get(Device, 1).last_used_at = first - dt.timedelta(minutes=2)
    assert phone.submit(submission_xml()).status_code == 201
    assert last_used() > first


def test_revoked_or_unknown_token_is_403_not_401(client, admin, collect):
    login(client)
    _, prefix = new_device(client)
    assert client.get("/key/not-a-real-token/formList").status_code == 403
    client.post("/users/1/devices/1/revoke", data={"csrf_token": csrf(client, "/users/1/devices")})
    response = client.get(f"{prefix}/formList")
    assert response.status_code == 403
    assert "WWW-Authenticate" not in response.headers
    assert "revoked" in response.get_data(as_text=True)


def test_collect_settings_payload_is_deflated_base64_json():
    settings = collect_settings("https://zf.example/key/abc", "走访")
    payload = encode_settings(settings)
    assert decode_settings(payload) == settings
    assert settings["general"] == {"server_url": "https://zf.example/key/abc", "form_update_mode": "match_exactly",
                                   "autosend": "wifi_and_cellular"}


def test_a_user_cannot_open_another_users_devices(client, admin, make_user, areas):
    make_user("cadre1", "cadre", (areas["village11"],))
    login(client, "cadre1")
    assert client.get("/users/1/devices").status_code == 404
    assert client.get("/users/2/devices").status_code == 200


def test_basic_auth_verifies_argon2_once_then_uses_the_cached_proof(client, collect, monkeypatch, make_user):
    calls = []
    real = passwords.verify_password
    monkeypatch.setattr(passwords, "verify_password", lambda h, p: calls.append(p) or real(h, p))
    headers = make_user("cadre1", "cadre")
    for _ in range(5):
        assert client.get("/formList", headers=headers).status_code == 200
    assert len(calls) == 1
    from support import basic
    assert client.get("/formList", headers=basic("cadre1", "not-the-password")).status_code == 401
    assert len(calls) == 2  # a wrong password never matches the cached proof


@pytest.mark.parametrize("settings_overrides", [{"credential_cache_seconds": 0}])
def test_credential_cache_can_be_turned_off(client, collect, monkeypatch, settings_overrides):
    calls = []
    real = passwords.verify_password
    monkeypatch.setattr(passwords, "verify_password", lambda h, p: calls.append(p) or real(h, p))
    for _ in range(3):
        assert client.get("/formList", headers=collect.headers).status_code == 200
    assert len(calls) == 3


def test_changing_the_password_invalidates_the_cached_proof(client, collect, sessions):
    from sqlalchemy import select

    from server.db import session_scope
    from server.models import User
    assert client.get("/formList", headers=collect.headers).status_code == 200
    with session_scope(sessions) as session:
        session.scalar(select(User).where(User.username == "admin")).password_hash = passwords.hash_password("new-pw")
    assert client.get("/formList", headers=collect.headers).status_code == 401


def test_login_page_is_chinese_by_default_and_english_on_request(client):
    assert "登录" in client.get("/login").get_data(as_text=True)
    english = client.get("/login?lang=en")
    assert "Log in" in english.get_data(as_text=True)
    assert "Log in" in client.get("/login").get_data(as_text=True)  # remembered in a cookie


def test_login_rejects_wrong_password_and_missing_csrf(client, admin):
    assert login(client, password="wrong").status_code == 401
    response = client.post("/login", data={"username": "admin", "password": "secret-pass"})
    assert response.status_code == 400
    assert "过期" in response.get_data(as_text=True)


def test_pages_need_a_login(client):
    response = client.get("/")
    assert response.status_code == 302 and "/login" in response.headers["Location"]


def test_session_cookie_is_httponly_and_samesite(client, admin):
    response = login(client)
    cookie = response.headers["Set-Cookie"]
    assert "HttpOnly" in cookie and "SameSite=Lax" in cookie


def test_home_lists_the_published_forms(client, collect):
    login(client)
    assert "测试走访" in client.get("/").get_data(as_text=True)


def test_home_names_the_bundled_forms_in_the_pages_language_with_the_version_as_a_hint(client, sample_district):
    """issue 17 item 5: a title per language, never `household_visit · 版本 …`."""
    assert login(client, "cadre001", "secret-pass").status_code == 302
    forms = re.findall(r'<li data-testid="published-form">(.*?)</li>', client.get("/").get_data(as_text=True))
    assert '入户走访 <span class="muted">版本 2026120701</span>' in forms
    assert not any("household_visit" in f or "Door-to-door" in f for f in forms)
    english = re.findall(r'<li data-testid="published-form">(.*?)</li>', client.get("/?lang=en").get_data(as_text=True))
    assert any(f.startswith("Door-to-door visit ") for f in english) and not any("入户走访" in f for f in english)


def test_login_is_rate_limited_after_repeated_wrong_passwords(client, admin):
    for _ in range(5):
        assert login(client, password="wrong").status_code == 401
    blocked = login(client, password="secret-pass")  # even the right password waits now
    assert blocked.status_code == 429
    assert int(blocked.headers["Retry-After"]) > 0
    assert "密码错误次数过多" in blocked.get_data(as_text=True)


def login_to(client, next_value):
    page = client.get("/login").get_data(as_text=True)
    token = re.search(r'name="csrf_token" value="([^"]+)"', page).group(1)
    return client.post("/login", query_string={"next": next_value},
                       data={"username": "admin", "password": "secret-pass", "csrf_token": token})


@pytest.mark.parametrize("hostile", [
    "//evil.example", "/\\evil.example", "/\t/evil.example", "\t//evil.example", "https://evil.example",
    "javascript:alert(1)", " /\t/evil.example", "/\r\n/evil.example", "\\\\evil.example", "http:/evil.example",
    "evil.example",
])
def test_login_never_redirects_to_another_site(client, admin, hostile):
    response = login_to(client, hostile)
    assert response.status_code == 302
    assert response.headers["Location"] == "/"


def test_login_returns_to_the_page_asked_for(client, admin):
    response = login_to(client, "/households/?status=x")
    assert response.headers["Location"] == "/households/?status=x"
