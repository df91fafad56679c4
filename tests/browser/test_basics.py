"""Logging in, the language switch, the home page, setting up a phone by QR code and importing the roster, in a
real browser at phone and desktop size."""
import re
from pathlib import Path

import pytest
from playwright.sync_api import expect

from sync.demo import demo_roster

pytestmark = pytest.mark.browser
DEVICES = ("phone", "desktop")
SAMPLE_ROSTER = Path(__file__).resolve().parents[2] / "sync" / "samples" / "roster.csv"


@pytest.mark.parametrize("device", DEVICES)
def test_log_in_on_the_chinese_login_page(new_context, log_in, screenshot, accounts, device):
    page = new_context(device).new_page()
    page.goto("/")
    expect(page).to_have_url(re.compile(r"/login"))  # sent to log in first
    expect(page.locator("html")).to_have_attribute("lang", "zh-CN")
    expect(page.locator("h1")).to_have_text("登录")
    screenshot(page, "login", device)
    log_in(page, *accounts["admin"])
    expect(page.locator("h1")).to_contain_text("欢迎")
    expect(page.locator("body")).to_contain_text("已发布的表单")
    expect(page.locator("body")).to_contain_text("入户走访")  # the bundled forms the demo published
    screenshot(page, "home", device)


def test_a_wrong_password_says_so_and_stays_on_the_login_page(new_context, log_in, screenshot):
    page = new_context("phone").new_page()
    # a name of its own, so that the rate limit this counts towards never blocks another test's login
    log_in(page, "cadre-who-forgot", "not-the-password")
    expect(page.locator("[role=alert]")).to_have_text("用户名或密码错误。")
    expect(page.locator("input[name=password]")).to_be_visible()
    screenshot(page, "login-wrong-password", "phone")


def test_switching_to_english_is_kept_across_pages(open_page, screenshot):
    page = open_page("cadre001", "phone", "/")
    expect(page.locator("h1")).to_contain_text("欢迎")
    page.get_by_test_id("switch-language").click()
    expect(page.locator("h1")).to_contain_text("Welcome")
    expect(page.locator("html")).to_have_attribute("lang", "en")
    page.get_by_role("link", name="Set up ODK Collect").click()
    expect(page.get_by_role("button", name="Make a new QR code")).to_be_visible()  # still English, no ?lang=
    assert "lang=" not in page.url
    page.locator("nav.sections").get_by_role("link", name="Visit coverage").click()
    expect(page.locator("h1")).to_contain_text("Visit coverage")
    expect(page.get_by_role("button", name="Log out")).to_be_visible()
    screenshot(page, "coverage-english", "phone")
    page.get_by_test_id("switch-language").click()
    expect(page.locator("h1")).to_contain_text("走访覆盖")
    page.goto("/")
    expect(page.locator("h1")).to_contain_text("欢迎")  # Chinese is remembered the same way


def test_the_home_page_shows_a_cadres_own_villages(shoot):
    pages = shoot("home-cadre", "/", user="cadre001")
    for page in pages.values():
        expect(page.locator("body")).to_contain_text("高峪一村")
        expect(page.locator("body")).to_contain_text("牛心二村")
        expect(page.locator("body")).not_to_contain_text("高峪二村")


def test_a_cadre_makes_a_qr_code_for_odk_collect(open_page, screenshot):
    for device in DEVICES:
        page = open_page("cadre002", device, "/")
        page.get_by_role("link", name="配置 ODK Collect").click()
        page.locator("input[name=name]").fill(f"李秀英的手机 {device}")
        page.get_by_role("button", name="生成新的二维码").click()
        qr = page.get_by_test_id("collect-qr").locator("svg")
        expect(qr).to_be_visible()
        box = qr.bounding_box()
        assert box and 150 < box["width"] <= page.viewport_size["width"]
        expect(page.get_by_test_id("server-url")).to_contain_text("/key/")
        expect(page.locator("ul.devices")).to_contain_text(f"李秀英的手机 {device}")
        screenshot(page, "devices-qr", device)


def test_the_qr_page_fits_a_phone_screen(open_page, fits_phone):
    page = open_page("cadre001", "phone", "/")
    page.get_by_role("link", name="配置 ODK Collect").click()
    page.get_by_role("button", name="生成新的二维码").click()
    expect(page.get_by_test_id("collect-qr")).to_be_visible()
    fits_phone(page)


def test_the_roster_import_shows_progress_and_the_result(open_page, screenshot, tmp_path):
    # the roster the demo imported (the sample, its poverty-period statuses as of today): everything is unchanged,
    # and the shared demo data stays as the other tests expect it
    roster = tmp_path / "roster.csv"
    roster.write_bytes(demo_roster(monitoring_period=True))
    page = open_page("admin", "desktop", "/admin/roster")
    screenshot(page, "roster", "desktop")
    page.locator("input[type=file]").set_input_files(str(roster))
    page.get_by_role("button", name="上传并导入").click()
    status = page.locator("#roster-status")
    expect(status).to_contain_text("导入完成：113 户", timeout=20_000)
    expect(status).to_contain_text("未变 113")
    progress = page.locator("#roster-progress")
    expect(progress).to_be_visible()
    expect(progress).to_have_attribute("value", "100")
    expect(page.locator("#roster-errors")).to_be_hidden()
    screenshot(page, "roster-imported", "desktop")


def test_a_bad_roster_lists_each_row_error_and_imports_nothing(open_page, screenshot, tmp_path):
    bad = tmp_path / "roster-bad.csv"
    header = SAMPLE_ROSTER.read_text(encoding="utf-8").splitlines()[0]
    bad.write_text("\n".join([
        header,
        "2105040010019901,210504001001,高峪一村,错号码,210504194707180870,户主,男,1947-07-18,非在校生,是,健康,"
        "无劳动力,未脱贫,缺劳力,41.29,123.80,cadre001",
        "2105040010019902,210504001001,高峪一村,怪性别,210504194707180878,户主,未知,1947-07-18,非在校生,是,健康,"
        "无劳动力,未脱贫,缺劳力,41.29,123.80,cadre001",
    ]) + "\n", encoding="utf-8")
    for device in DEVICES:
        page = open_page("admin", device, "/admin/roster")
        page.locator("input[type=file]").set_input_files(str(bad))
        page.get_by_role("button", name="上传并导入").click()
        errors = page.locator("#roster-errors")
        expect(errors).to_be_visible(timeout=20_000)
        expect(page.locator("#roster-status")).to_have_class("error")
        rows = errors.locator("tbody tr")
        assert rows.count() >= 2
        expect(errors).to_contain_text("校验位")
        expect(errors).to_contain_text("男 或 女")
        screenshot(page, "roster-errors", device)


def test_a_cadres_home_names_the_forms_by_their_title_in_the_pages_language(open_page, screenshot, fits_phone):
    """issue 17 item 5: Chinese titles on a Chinese page, English on an English one, the version as a hint; no
    `household_visit · 版本 …`."""
    page = open_page("cadre001", "phone", "/")
    forms = page.get_by_test_id("published-form")
    expect(forms.first).to_be_visible()
    texts = forms.all_inner_texts()
    assert any(t.startswith("入户走访") and "版本" in t for t in texts)
    assert not any("household_visit" in t or "Door-to-door" in t for t in texts)
    fits_phone(page)
    screenshot(page, "home-form-titles", "phone")
    page.goto("/?lang=en")
    english = page.get_by_test_id("published-form").all_inner_texts()
    assert any(t.startswith("Door-to-door visit") for t in english) and not any("入户走访" in t for t in english)


def test_a_file_that_is_not_an_xlsform_is_explained_in_chinese(open_page, screenshot, fits_phone, tmp_path):
    """issue 17 item 5: a renamed PDF on the publishing page: what is wrong, in Chinese; pyxform's text as detail."""
    fake = tmp_path / "plan.xlsx"
    fake.write_bytes(b"%PDF-1.4 not a spreadsheet")
    page = open_page("admin", "phone", "/admin/")
    page.get_by_test_id("xlsform-input").set_input_files(str(fake))
    page.get_by_test_id("publish-submit").click()
    errors = page.get_by_test_id("form-errors")
    expect(errors).to_contain_text("它不是 Excel 表格（.xlsx）")
    expect(errors.get_by_test_id("error-detail")).to_contain_text("原文")
    fits_phone(page)
    screenshot(page, "admin-form-not-xlsx", "phone")
