"""The 危房改造台账 on a 390 px phone in Chinese (issue 19): the demo's C/D houses, filtered by stage, each row opening
its household's file at the ledger section, and a village's 公示 list ready to print."""
import pytest
from playwright.sync_api import expect

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
