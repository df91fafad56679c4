"""防止返贫监测 on a 390 px phone in Chinese (issue 19): the demo's monitoring cases with their counts per state,
filtered by state through the counts, a proposal's case page with its evidence and the decision forms, a proposal
dismissed there with a reason, a case under way with the conditions of 风险消除, and the household file's section.
DOMAIN.md "Precisions", line 91: each step is a dated decision by someone."""
import pytest
from playwright.sync_api import expect

pytestmark = pytest.mark.browser


def test_the_monitoring_list_fits_a_phone_and_a_supervisor_decides_on_a_case(open_page, fits_phone, screenshot):
    page = open_page("county", "phone", "/monitoring/")
    rows = page.get_by_test_id("monitoring-row")
    expect(rows.first).to_be_visible()
    expect(page.get_by_test_id("monitoring-counts")).to_be_visible()
    fits_phone(page)
    screenshot(page, "monitoring-list", "phone", full_page=False)

    # the counts filter by state
    page.get_by_test_id("monitoring-counts").locator("a[data-state=helped]").click()
    page.wait_for_load_state()
    assert "state=helped" in page.url
    expect(rows).to_have_count(1)
    rows.first.locator("a.main").click()
    page.wait_for_load_state()
    expect(page.get_by_test_id("case-conditions")).to_be_visible()
    expect(page.get_by_test_id("measure-form")).to_be_visible()
    expect(page.get_by_test_id("remove-form")).to_be_visible()
    fits_phone(page)
    screenshot(page, "monitoring-case-helped", "phone", full_page=True)

    # a proposal: its evidence and the forms to decide; dismissed with a reason
    page.goto("/monitoring/?state=proposed")
    proposals = page.get_by_test_id("monitoring-row")
    before = int(page.get_by_test_id("count-dismissed").inner_text())
    proposals.first.locator("a.main").click()
    page.wait_for_load_state()
    expect(page.get_by_test_id("case-evidence")).to_be_visible()
    expect(page.get_by_test_id("include-form")).to_be_visible()
    fits_phone(page)
    screenshot(page, "monitoring-case-proposed", "phone", full_page=True)
    form = page.get_by_test_id("dismiss-form")
    form.locator("textarea[name=text]").fill("经核实，家庭收入稳定")
    form.get_by_role("button", name="不纳入").click()
    page.wait_for_load_state()
    expect(page.get_by_test_id("flash-ok")).to_be_visible()
    expect(page.get_by_test_id("monitoring-case")).to_have_attribute("data-state", "dismissed")
    expect(page.get_by_test_id("monitoring-case")).to_contain_text("经核实，家庭收入稳定")

    # the household file shows its cases
    page.get_by_role("main").get_by_role("link", name="一户一档").click()
    page.wait_for_load_state()
    expect(page.get_by_test_id("household-monitoring")).to_be_visible()
    fits_phone(page)
    screenshot(page, "household-file-monitoring", "phone", full_page=False)
    page.goto("/monitoring/")
    assert int(page.get_by_test_id("count-dismissed").inner_text()) == before + 1
