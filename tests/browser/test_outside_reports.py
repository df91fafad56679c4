"""新发现户 (应纳尽纳) on a 390 px phone (issue 19): the county supervisor's home card leads to the reports waiting for a
decision, a report opens with its values and the decision forms, and declining it keeps it listed with its decision;
the registered one shows its new household number; the list in English."""
import pytest
from playwright.sync_api import expect

pytestmark = pytest.mark.browser


def test_a_supervisor_finds_decides_and_keeps_the_reports_on_a_phone(open_page, fits_phone, screenshot):
    page = open_page("county", "phone", "/")
    card = page.get_by_test_id("card-outside-undecided")
    expect(card).to_have_attribute("data-count", "1")
    card.get_by_test_id("card-link").click()
    page.wait_for_load_state()
    assert "/outside/" in page.url and "state=undecided" in page.url
    rows = page.get_by_test_id("outside-row")
    expect(rows).to_have_count(1)
    fits_phone(page)
    screenshot(page, "outside-list-undecided", "phone")

    rows.first.locator("a.main").click()
    page.wait_for_load_state()
    expect(page.get_by_test_id("outside-report")).to_be_visible()
    expect(page.get_by_test_id("outside-register-form")).to_be_visible()
    expect(page.get_by_test_id("outside-decline-form")).to_be_visible()
    fits_phone(page)
    screenshot(page, "outside-report-decide", "phone")

    page.get_by_test_id("outside-decline-form").locator("input[name=reason]").fill("经核实收入高于监测范围")
    page.get_by_role("button", name="不纳入").click()
    page.wait_for_load_state()
    expect(page.get_by_test_id("outside-decision")).to_contain_text("经核实收入高于监测范围")
    expect(page.get_by_test_id("outside-decide")).to_have_count(0)  # decided once
    screenshot(page, "outside-report-declined", "phone")

    base = page.url.split("/outside/")[0]
    page.goto(base + "/outside/?state=registered")
    expect(page.get_by_test_id("outside-row")).to_have_count(1)
    page.get_by_test_id("outside-row").first.locator("a.main").click()
    page.wait_for_load_state()
    household = page.get_by_test_id("outside-household")
    expect(household).to_be_visible()
    number = household.inner_text().strip()
    household.click()
    page.wait_for_load_state()
    assert number in page.url  # the registered household's file
    fits_phone(page)

    page.goto(base + "/outside/?lang=en")
    expect(page.locator("h1")).to_contain_text("Households outside the roster")
    expect(page.get_by_test_id("outside-row")).to_have_count(3)
    fits_phone(page)
    screenshot(page, "outside-list-en", "phone")
