"""The coverage pages' 走访职责 tab on a 390 px phone in Chinese: a village's cards of who has not met their duty
(the demo's cadres are paired cadres; it has no secretary accounts), with the households left, and no sideways
scrolling; from the coverage tab, one tap away."""
import pytest
from playwright.sync_api import expect

pytestmark = pytest.mark.browser

VILLAGE = "210504001001"


def test_the_duties_of_a_village_fit_a_phone(open_page, fits_phone, screenshot):
    page = open_page("town1", "phone", "/coverage/")
    page.get_by_test_id("tab-duties").click()
    expect(page.get_by_role("heading", level=1)).to_contain_text("走访职责")
    expect(page.get_by_test_id("duty-village")).to_have_count(2)
    page.get_by_test_id("duty-drill-down").first.click()
    card = page.get_by_test_id("duty-village")
    expect(card).to_have_count(1)
    expect(card).to_have_attribute("data-code", VILLAGE)
    expect(card.get_by_test_id("secretary-village_secretary")).to_contain_text("尚无此身份的账号")
    # the village's 19 households of the roster and the one the demo registers from a report outside it
    expect(card.get_by_test_id("secretary-missing-village_secretary").locator("li")).to_have_count(20)
    behind = card.get_by_test_id("cadre-behind")
    assert behind.count() >= 1
    expect(behind.first.get_by_test_id("cadre-missing").locator("li").first).to_be_visible()
    fits_phone(page)
    screenshot(page, "coverage-duties-village", "phone")
