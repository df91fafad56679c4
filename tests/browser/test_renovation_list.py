"""The 危房改造台账 on a 390 px phone in Chinese (issue 19): the demo's C/D houses, filtered by stage, each row opening
its household's file at the ledger section, and a village's 公示 list ready to print."""
import datetime as dt

import pytest
from playwright.sync_api import expect

from sync.values import CHINA

pytestmark = pytest.mark.browser


def test_the_renovation_ledger_fits_a_phone_and_opens_the_household_file(open_page, fits_phone, screenshot):
    page = open_page("county", "phone", "/renovation/")
    rows = page.get_by_test_id("renovation-row")
    expect(rows.first).to_be_visible()
    fits_phone(page)
    screenshot(page, "renovation-list", "phone", full_page=False)

    page.locator("select[name=stage]").select_option("building")
    page.get_by_role("button", name="筛选").click()
    page.wait_for_load_state()
    assert "stage=building" in page.url
    building = page.get_by_test_id("renovation-row")
    for i in range(min(building.count(), 5)):
        expect(building.nth(i)).to_have_attribute("data-stage", "building")

    page.goto(page.url.split("/renovation/")[0] + "/renovation/")
    number = rows.first.get_attribute("data-household")
    rows.first.locator("a.main").click()
    page.wait_for_load_state()
    section = page.get_by_test_id("household-renovation")
    expect(section).to_be_visible()
    assert number in page.url
    fits_phone(page)
    screenshot(page, "household-file-renovation", "phone", full_page=False)

    page.goto(page.url.split("/households/")[0] + "/renovation/publicity")
    page.locator("select[name=village]").select_option(index=1)
    page.get_by_role("button", name="显示").click()
    page.wait_for_load_state()
    expect(page.get_by_test_id("publicity")).to_be_visible()
    expect(page.get_by_test_id("print-publicity")).to_be_visible()
    fits_phone(page)
    screenshot(page, "renovation-publicity", "phone", full_page=False)
    page.emulate_media(media="print")  # on paper: the list alone, without the site's bar, filters or button
    expect(page.locator("nav.sections")).to_be_hidden()
    expect(page.get_by_test_id("publicity-filters")).to_be_hidden()
    expect(page.get_by_test_id("print-publicity")).to_be_hidden()
    expect(page.get_by_test_id("publicity-row").first).to_be_visible()
    screenshot(page, "renovation-publicity-print", "phone", full_page=False)


def test_finance_staff_see_the_ledger_on_a_phone_and_pay_from_the_household_file(open_page, fits_phone, screenshot):
    """Issue 19: "payments by hand (finance staff role or admin)": the demo's finance1 (county) sees 危房改造 and
    一户一档 in the top bar and no review or admin section, lists the houses with subsidy left to pay, and enters a
    payment from the household file, which offers no other entry."""
    page = open_page("finance1", "phone", "/")
    expect(page.get_by_test_id("card-renovation-unpaid")).to_be_visible()
    nav = page.locator("nav.sections")
    expect(nav.get_by_role("link", name="台账")).to_have_count(1)   # the ledgers' section: 危房改造 alone for them
    expect(nav.get_by_role("link", name="一户一档")).to_have_count(1)
    expect(nav.get_by_role("link", name="审核")).to_have_count(0)
    expect(nav.get_by_role("link", name="管理")).to_have_count(0)
    page.get_by_test_id("card-renovation-unpaid").get_by_test_id("card-link").click()
    page.wait_for_load_state()
    assert "unpaid=1" in page.url
    rows = page.get_by_test_id("renovation-row")
    expect(rows.first).to_be_visible()
    fits_phone(page)
    screenshot(page, "renovation-list-finance", "phone", full_page=False)

    rows.first.locator("a.main").click()
    page.wait_for_load_state()
    section = page.get_by_test_id("household-renovation")
    expect(section).to_be_visible()
    expect(section.get_by_test_id("renovation-stage-form")).to_have_count(0)
    section.get_by_test_id("renovation-forms").locator("summary").click()
    form = section.get_by_test_id("renovation-payment-form")
    form.locator("input[name=amount]").fill("100")
    form.locator("input[name=on]").fill(dt.datetime.now(CHINA).date().isoformat())
    form.get_by_role("button", name="登记拨付").click()
    page.wait_for_load_state()
    expect(page.get_by_text("已登记。")).to_be_visible()
    fits_phone(page)
    screenshot(page, "household-file-renovation-finance", "phone", full_page=False)
