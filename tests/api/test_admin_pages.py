"""Admin pages: publishing XLSForms with pyxform's errors shown in place, opening and closing forms, users
(create, log in as them, deactivate, reset the password), the area tree and its import; admins only."""
import io
import re

import pytest
from sqlalchemy import select

from forms.models import Form
from server.db import session_scope
from server.models import User
from support import broken_xlsform, xlsform


def login(client, username="admin", password="secret-pass"):
    page = client.get("/login").get_data(as_text=True)
    token = re.search(r'name="csrf_token" value="([^"]+)"', page).group(1)
    return client.post("/login", data={"username": username, "password": password, "csrf_token": token})


def csrf(client, path="/admin/"):
    return re.search(r'name="csrf_token" value="([^"]+)"', client.get(path).get_data(as_text=True)).group(1)


def block(html, testid):
    parts = re.split(rf'(?=<[^>]+data-testid="{testid}")', html)
    assert len(parts) > 1, f"no {testid} in the page"
    return parts[1]


@pytest.fixture
def admin_client(client, admin):
    assert login(client).status_code == 302
    return client


def upload(client, content, filename="form.xlsx", media=None, lang=None):
    data = {"csrf_token": csrf(client), "xlsform": (io.BytesIO(content), filename)}
    if media:
        data["media"] = [(io.BytesIO(body), name) for name, body in media.items()]
    return client.post("/admin/forms" + (f"?lang={lang}" if lang else ""), data=data,
                       content_type="multipart/form-data")


# ---- forms -------------------------------------------------------------------------------------------------

def test_a_broken_xlsform_shows_pyxforms_errors_by_sheet_and_row(admin_client, sessions):
    response = upload(admin_client, broken_xlsform(), "broken.xlsx")
    assert response.status_code == 400
    errors = block(response.get_data(as_text=True), "form-errors")
    assert "XLSForm 有错误，未发布" in errors
    sheet = re.search(r'data-testid="error-sheet">([^<]+)<', errors).group(1)
    row = re.search(r'data-testid="error-row-number">([^<]+)<', errors).group(1)
    assert (sheet, row) == ("survey", "3")
    assert "nowhere" in errors and "survey 表第 3 行" in errors
    with session_scope(sessions) as session:
        assert session.scalar(select(Form).where(Form.xml_form_id == "broken")) is None


def test_the_errors_come_in_english_on_an_english_page(admin_client):
    response = upload(admin_client, broken_xlsform(), "broken.xlsx", lang="en")
    errors = block(response.get_data(as_text=True), "form-errors")
    assert "The XLSForm has errors" in errors and "Sheet" in errors
    assert "survey 表第 3 行" not in errors


def test_a_file_that_is_not_an_xlsx_is_explained_in_chinese_with_the_original_as_detail(admin_client):
    """issue 17 item 5: a PDF or a text renamed .xlsx is said to be what it is, in Chinese; pyxform's sentence
    stays as the detail."""
    response = upload(admin_client, b"%PDF-1.4 not a spreadsheet", "plan.xlsx")
    assert response.status_code == 400
    errors = block(response.get_data(as_text=True), "form-errors")
    assert "它不是 Excel 表格（.xlsx）" in errors and "另存为 .xlsx" in errors
    detail = block(response.get_data(as_text=True), "error-detail")
    assert "not recognized as a supported type" in detail
    english = block(upload(admin_client, b"%PDF-1.4", "plan.xlsx", lang="en").get_data(as_text=True), "form-errors")
    assert "not recognized as a supported type" in english and "Excel 表格" not in english


def before(html, first, then):
    """Whether the element with data-testid `first` comes before the one with `then` in the page."""
    return html.index(f'data-testid="{first}"') < html.index(f'data-testid="{then}"')


def test_the_outcome_of_an_upload_comes_before_the_upload_form(admin_client):
    """On a phone the form fills the screen: the errors (or the result) come first, where the reloaded page opens."""
    refused = upload(admin_client, broken_xlsform(), "broken.xlsx").get_data(as_text=True)
    assert before(refused, "form-errors", "publish-form")
    published = upload(admin_client, xlsform(version="2026112602")).get_data(as_text=True)
    assert before(published, "publish-result", "publish-form")


def test_a_good_xlsform_is_published_with_its_version_and_warnings(admin_client):
    response = upload(admin_client, xlsform(version="2026112601", media_image="logo.png"))
    assert response.status_code == 200
    result = block(response.get_data(as_text=True), "publish-result")
    assert "test_visit" in result and "2026112601" in result
    assert "logo.png" in result  # a warning: the media file was not uploaded
    listing = block(response.get_data(as_text=True), "form-list")
    assert 'data-form-id="test_visit"' in listing


def test_a_published_version_cannot_be_published_again(admin_client):
    upload(admin_client, xlsform(version="5"))
    response = upload(admin_client, xlsform(version="5"))
    assert response.status_code == 409
    assert "已经发布过" in block(response.get_data(as_text=True), "form-errors")


def test_the_media_files_go_with_the_form(admin_client):
    response = upload(admin_client, xlsform(version="6", media_image="logo.png"), media={"logo.png": b"\x89PNG..."})
    assert "还缺这些媒体文件" not in block(response.get_data(as_text=True), "publish-result")


def test_publishing_without_a_file_is_refused_in_place(admin_client):
    response = admin_client.post("/admin/forms", data={"csrf_token": csrf(admin_client)},
                                 content_type="multipart/form-data")
    assert response.status_code == 400 and 'data-testid="form-errors"' in response.get_data(as_text=True)


def test_a_form_is_closed_and_reopened_from_the_list(admin_client, sessions):
    upload(admin_client, xlsform(version="1"))
    response = admin_client.post("/admin/forms/test_visit/state",
                                 data={"state": "closed", "csrf_token": csrf(admin_client)})
    assert response.status_code == 302
    with session_scope(sessions) as session:
        assert session.scalar(select(Form.state).where(Form.xml_form_id == "test_visit")) == "closed"
    page = admin_client.get("/admin/").get_data(as_text=True)
    assert re.search(r'value="closed" class="on"[^>]*disabled', block(page, "form-row"))
    assert admin_client.post("/admin/forms/nope/state",
                             data={"state": "open", "csrf_token": csrf(admin_client)}).status_code == 404
    assert admin_client.post("/admin/forms/test_visit/state",
                             data={"state": "gone", "csrf_token": csrf(admin_client)}).status_code == 400


def test_admin_pages_link_the_roster_import(admin_client):
    assert 'href="/admin/roster"' in admin_client.get("/admin/").get_data(as_text=True)


# ---- users -------------------------------------------------------------------------------------------------

def create(client, **fields):
    data = {"username": "wangwu", "display_name": "王五", "role": "cadre", "areas": ["210504001001"],
            "password": "a-long-password", **fields}
    data["csrf_token"] = csrf(client, "/admin/users")
    return client.post("/admin/users", data=data)


def test_an_admin_creates_a_user_who_can_then_log_in(admin_client, sample_district, app, sessions):
    response = create(admin_client, areas=["210504001001", "210504001002"])
    assert response.status_code == 302
    listing = admin_client.get("/admin/users").get_data(as_text=True)
    row = block(listing, "user-row\" data-username=\"wangwu")
    assert "王五" in row and "高峪一村" in row and "高峪二村" in row and "帮扶干部" in row
    with session_scope(sessions) as session:
        user_id = session.scalar(select(User.id).where(User.username == "wangwu"))
    assert f'href="/users/{user_id}/devices"' in row
    fresh = app.test_client()
    assert login(fresh, "wangwu", "a-long-password").status_code == 302
    assert "王五" in fresh.get("/").get_data(as_text=True)


@pytest.mark.parametrize("fields, message", [
    ({"username": "admin"}, "已被使用"),
    ({"username": "has space"}, "不能含空格"),
    ({"password": "short"}, "密码至少 8 个字符"),
    ({"areas": []}, "至少要有一个区域"),
    ({"areas": ["999"]}, "没有这些区域"),
    ({"role": "boss"}, "请选择角色"),
])
def test_a_user_that_cannot_be_created_shows_why_in_place(admin_client, sample_district, fields, message):
    response = create(admin_client, **fields)
    assert response.status_code == 400
    assert message in block(response.get_data(as_text=True), "user-errors")
    assert 'value="王五"' in response.get_data(as_text=True)  # what was typed stays


def test_an_admin_needs_no_area(admin_client, sample_district):
    assert create(admin_client, username="admin2", role="admin", areas=[]).status_code == 302


def test_a_deactivated_user_cannot_log_in_or_submit(admin_client, sample_district, app, sessions, client):
    with session_scope(sessions) as session:
        user_id = session.scalar(select(User.id).where(User.username == "cadre001"))
    response = admin_client.post(f"/admin/users/{user_id}/active",
                                 data={"active": "0", "csrf_token": csrf(admin_client, "/admin/users")})
    assert response.status_code == 302
    assert login(app.test_client(), "cadre001").status_code == 401
    assert app.test_client().get("/api/v1/forms", headers=sample_district["cadre1"]).status_code == 401
    admin_client.post(f"/admin/users/{user_id}/active",
                      data={"active": "1", "csrf_token": csrf(admin_client, "/admin/users")})
    assert login(app.test_client(), "cadre001").status_code == 302


def test_an_admin_cannot_deactivate_themselves(admin_client, sessions):
    with session_scope(sessions) as session:
        user_id = session.scalar(select(User.id).where(User.username == "admin"))
    admin_client.post(f"/admin/users/{user_id}/active", data={"active": "0", "csrf_token": csrf(admin_client)})
    assert "不能停用自己的账号" in admin_client.get("/admin/users").get_data(as_text=True)


def test_a_reset_password_replaces_the_old_one(admin_client, sample_district, app, sessions):
    with session_scope(sessions) as session:
        user_id = session.scalar(select(User.id).where(User.username == "cadre001"))
    token = csrf(admin_client, "/admin/users")
    short = admin_client.post(f"/admin/users/{user_id}/password", data={"password": "short", "csrf_token": token})
    assert short.status_code == 302 and login(app.test_client(), "cadre001").status_code == 302
    admin_client.post(f"/admin/users/{user_id}/password", data={"password": "new-password-1", "csrf_token": token})
    assert login(app.test_client(), "cadre001").status_code == 401
    assert login(app.test_client(), "cadre001", "new-password-1").status_code == 302
    assert admin_client.post("/admin/users/9999/password", data={"password": "new-password-1",
                                                                 "csrf_token": token}).status_code == 404


# ---- areas -------------------------------------------------------------------------------------------------

def import_areas(client, text, filename="areas.csv"):
    return client.post("/admin/areas", data={"csrf_token": csrf(client, "/admin/areas"),
                                             "file": (io.BytesIO(text.encode("utf-8")), filename)},
                       content_type="multipart/form-data")


def test_the_area_tree_is_shown_in_order(admin_client, sample_district):
    html = admin_client.get("/admin/areas").get_data(as_text=True)
    codes = re.findall(r'data-testid="area-row" data-code="(\d+)"', html)
    assert codes[:4] == ["210504", "210504001", "210504001001", "210504001002"]


def test_an_area_file_with_errors_shows_each_row(admin_client, sample_district):
    response = import_areas(admin_client, "代码,名称,上级代码,层级\n210504004,新镇,210504,乡镇\nabc,坏村,210504004,村\n"
                                          "210504004001,孤村,999,村\n")
    assert response.status_code == 400
    errors = block(response.get_data(as_text=True), "area-errors")
    rows = re.findall(r'data-testid="error-row-number">([^<]+)<', errors)
    assert rows == ["3", "4"] and "应为数字" in errors and "999" in errors
    assert "新镇" not in block(response.get_data(as_text=True), "area-tree")
    assert before(response.get_data(as_text=True), "area-errors", "area-import-form")


def test_an_area_file_is_imported(admin_client, sample_district):
    response = import_areas(admin_client, "代码,名称,上级代码,层级\n210504004,新镇,210504,乡镇\n"
                                          "210504004001,新村,210504004,村\n")
    assert response.status_code == 200
    assert "新增 2" in block(response.get_data(as_text=True), "area-import-result")
    assert 'data-code="210504004001"' in block(response.get_data(as_text=True), "area-tree")


# ---- access ------------------------------------------------------------------------------------------------

ADMIN_PAGES = ["/admin/", "/admin/users", "/admin/areas"]


@pytest.mark.parametrize("path", ADMIN_PAGES)
@pytest.mark.parametrize("username", ["town1", "cadre001"])
def test_only_admins_see_admin_pages(client, sample_district, path, username):
    login(client, username)
    assert client.get(path).status_code == 403


@pytest.mark.parametrize("path, data", [("/admin/forms", {}), ("/admin/users", {"username": "x"}),
                                        ("/admin/forms/household_visit/state", {"state": "closed"})])
def test_non_admins_cannot_post_to_admin_pages(client, sample_district, path, data):
    login(client, "town1")
    data["csrf_token"] = csrf(client, "/review/")
    assert client.post(path, data=data).status_code == 403


@pytest.mark.parametrize("path", ADMIN_PAGES)
def test_admin_pages_send_strangers_to_login(client, path):
    response = client.get(path)
    assert response.status_code == 302 and "/login" in response.headers["Location"]


def test_admin_posts_need_the_csrf_token(admin_client):
    assert admin_client.post("/admin/users", data={"username": "x"}).status_code == 400


@pytest.mark.parametrize("lang, text", [("zh", "页面已过期，请刷新后重试。"), ("en", "The page has expired")])
def test_a_wrong_csrf_token_is_a_readable_page(admin_client, lang, text):
    admin_client.get(f"/admin/users?lang={lang}")
    response = admin_client.post("/admin/users", data={"username": "x", "csrf_token": "forged"})
    assert response.status_code == 400 and response.mimetype == "text/html"
    assert text in response.get_data(as_text=True)


def test_admin_pages_switch_to_english(admin_client, sample_district):
    html = admin_client.get("/admin/users?lang=en").get_data(as_text=True)
    assert "New user" in html and "Paired cadre" in html and "新建用户" not in html
    assert "Publish an XLSForm" in admin_client.get("/admin/").get_data(as_text=True)
    assert "Import the area list" in admin_client.get("/admin/areas").get_data(as_text=True)


def test_the_navigation_shows_review_and_admin_by_role(client, sample_district, admin, app):
    login(client)
    html = client.get("/admin/").get_data(as_text=True)
    assert 'href="/review/"' in html and 'href="/admin/"' in html
    supervisor = app.test_client()
    login(supervisor, "town1")
    html = supervisor.get("/review/").get_data(as_text=True)
    assert 'href="/review/"' in html and 'href="/admin/"' not in html
