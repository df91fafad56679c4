"""The 退出程序 on a 390 px phone in Chinese (issue 19): the county supervisor enters 民主评议 from a household's file
(the exit standard beside the steps), then finds the household in /exits/ filtered by the step reached.
DOMAIN.md "Precisions", line 110: 民主评议 → 村两委和驻村工作队核实 → 村内公示 → 镇核查 → 县抽查 → 批准公告 → 备案标注."""
import datetime as dt

import pytest
from playwright.sync_api import expect

pytestmark = pytest.mark.browser


def test_a_step_entered_from_the_file_shows_in_the_list(open_page, fits_phone, screenshot, demo_db):
    number = demo_db.execute("SELECT number FROM households ORDER BY number LIMIT 1").fetchone()[0]
    page = open_page("county", "phone", f"/households/{number}#exit")
    section = page.get_by_test_id("household-exit")
    expect(section).to_be_visible()
    expect(page.get_by_test_id("exit-standard")).to_be_visible()
    today = dt.datetime.now(dt.timezone(dt.timedelta(hours=8))).date()
    page.get_by_test_id("exit-step-form").locator("input[name=on]").fill(str(today - dt.timedelta(days=1)))
    page.get_by_test_id("exit-step-form").get_by_role("button", name="登记").click()
    page.wait_for_load_state()
    expect(page.get_by_test_id("exit-steps")).to_contain_text("民主评议")
    expect(page.get_by_test_id("exit-step-form")).to_contain_text("村两委和驻村工作队核实")
    fits_phone(page)
    page.get_by_test_id("household-exit").scroll_into_view_if_needed()
    screenshot(page, "household-file-exit", "phone", full_page=False)

    page.goto(page.url.split("/households/")[0] + "/exits/")
    page.locator("select[name=step]").select_option("appraisal")
    page.get_by_role("button", name="筛选").click()
    page.wait_for_load_state()
    rows = page.get_by_test_id("exit-row")
    expect(rows.first).to_have_attribute("data-household", number)
    fits_phone(page)
    screenshot(page, "exits-list", "phone", full_page=False)
