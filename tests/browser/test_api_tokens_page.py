"""API tokens for scripts (issue 16): a town supervisor opens their name in the header, makes a token on a 390 px
phone page in Chinese, and a script reads the API with it until it is revoked."""
import pytest
import requests
from playwright.sync_api import expect

pytestmark = pytest.mark.browser


def test_a_supervisor_makes_uses_and_revokes_a_token(open_page, fits_phone, screenshot, demo_server):
    page = open_page("town1", "phone", "/")
    page.get_by_test_id("who").click()
    expect(page.locator("h1")).to_contain_text("的 API 令牌")
    page.get_by_label("用途").fill("月报导出脚本")
    page.get_by_role("button", name="生成新令牌").click()
    secret = page.get_by_test_id("token-secret").inner_text().strip()
    expect(page.get_by_test_id("new-token")).to_contain_text("令牌只显示这一次")
    fits_phone(page)
    screenshot(page, "api-tokens", "phone")
    url = f"{demo_server.base_url}/api/v1/submissions"
    listed = requests.get(url, headers={"Authorization": f"Bearer {secret}"}, timeout=30)
    assert listed.status_code == 200 and listed.json()
    row = page.get_by_test_id("token-row").filter(has_text="月报导出脚本")
    row.get_by_test_id("revoke-token").click()
    expect(page.get_by_test_id("token-row").filter(has_text="月报导出脚本")).to_contain_text("已撤销")
    assert requests.get(url, headers={"Authorization": f"Bearer {secret}"}, timeout=30).status_code == 401
