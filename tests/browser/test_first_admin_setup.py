"""A new user's first start, on a phone: the login page says there is no admin yet and how to get one, the
one-time link from the server's log opens the setup page, which fits 390 px, shows what to fix, creates the admin
and logs them in; the link then no longer works."""
import re

import pytest
from playwright.sync_api import expect

pytestmark = pytest.mark.browser
PHONE = {"viewport": {"width": 390, "height": 844}, "is_mobile": True, "has_touch": True, "device_scale_factor": 2}


def test_first_admin_is_created_on_a_phone_with_the_link_from_the_log(browser, first_start_server, screenshot,
                                                                       fits_phone):
    found = re.search(r"http://127\.0\.0\.1:\d+(/setup/[A-Za-z0-9_-]{40,})", first_start_server.log())
    assert found, first_start_server.log()
    context = browser.new_context(base_url=first_start_server.base_url, locale="zh-CN", **PHONE)
    context.set_default_timeout(10_000)
    try:
        page = context.new_page()
        page.goto("/login")
        expect(page.locator("[data-testid=no-admin]")).to_contain_text("还没有管理员账号")
        expect(page.locator("[data-testid=no-admin]")).to_contain_text("flask --app wsgi users create")
        fits_phone(page)
        screenshot(page, "login-no-admin", "phone")

        page.goto(found.group(1))
        expect(page.locator("h1")).to_have_text("创建第一个管理员")
        fits_phone(page)
        screenshot(page, "setup-first-admin", "phone")

        page.locator("input[name=username]").fill("chief")
        page.locator("input[name=display_name]").fill("王主任")
        page.locator("input[name=password]").fill("chief-password-1")
        page.locator("input[name=password_repeat]").fill("another-password")
        page.locator("form button[type=submit]").click()
        expect(page.locator("[data-testid=setup-errors]")).to_have_text("两次输入的密码不一致。")
        expect(page.locator("input[name=display_name]")).to_have_value("王主任")
        fits_phone(page)
        screenshot(page, "setup-first-admin-mismatch", "phone")

        page.locator("input[name=password]").fill("chief-password-1")
        page.locator("input[name=password_repeat]").fill("chief-password-1")
        page.locator("form button[type=submit]").click()
        expect(page.locator("h1")).to_contain_text("欢迎")
        expect(page.locator(".bar .who")).to_have_text("王主任")
        screenshot(page, "setup-first-admin-done", "phone")

        response = page.goto(found.group(1))
        assert response.status == 404
        expect(page.locator("[role=alert]")).to_contain_text("无效或已经用过")
    finally:
        context.close()
