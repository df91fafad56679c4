"""The 问题清单 page on a 390 px phone in Chinese (issue 15): the demo's problems as cases a supervisor filters by
kind, each row opening its household's file at its cases, with the history and the sign-off form one tap away."""
import pytest
from playwright.sync_api import expect

pytestmark = pytest.mark.browser


def test_the_case_list_fits_a_phone_and_opens_the_household_file(open_page, fits_phone, screenshot):
    page = open_page("county", "phone", "/review/cases/")
    expect(page.get_by_test_id("tab-cases")).to_have_attribute("aria-current", "page")
    rows = page.get_by_test_id("case-row")
    expect(rows.first).to_be_visible()
    expect(rows.first.get_by_test_id("case-state")).to_have_text("待解决")
    fits_phone(page)
    screenshot(page, "review-cases", "phone", full_page=False)

    page.locator("select[name=kind]").select_option("water")
    page.get_by_role("button", name="筛选").click()
    page.wait_for_load_state()
    assert "kind=water" in page.url
    water = page.get_by_test_id("case-row")
    expect(water.first).to_be_visible()
    for i in range(min(water.count(), 5)):
        expect(water.nth(i)).to_have_attribute("data-kind", "water")
    water.first.locator("summary").click()
    expect(water.first.get_by_test_id("sign-off-form")).to_be_visible()
    expect(water.first.get_by_test_id("case-history").locator("li").first).to_contain_text("发现")
    fits_phone(page)
    screenshot(page, "review-cases-water", "phone", full_page=False)

    key = water.first.get_attribute("data-key")
    water.first.get_by_test_id("case-household").click()
    page.wait_for_load_state()
    expect(page.get_by_test_id("household-cases")).to_be_visible()
    expect(page.locator(f"[data-testid=household-case][data-key='{key}']")).to_be_visible()
    fits_phone(page)
    screenshot(page, "household-file-cases", "phone", full_page=False)
