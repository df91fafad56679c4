"""The home pages at 390 px (issue 15): a cadre's 今日工作 lists the cadre's own households, who needs a visit this
month first, and finds one by number; a supervisor's 工作台 shows the month's coverage with its trend, cards whose
numbers open their lists, and the villages worst first — all without sideways scrolling."""
import re

import pytest
from playwright.sync_api import expect

pytestmark = pytest.mark.browser
NEEDS_VISIT = ("not_visited", "attempted")


def test_a_cadres_home_lists_their_households_who_needs_a_visit_first(open_page, demo_db, fits_phone, screenshot):
    page = open_page("cadre001", "phone", "/")
    expected = demo_db.execute(
        "SELECT count(*) FROM households h JOIN user_areas ua ON ua.area_id = h.area_id JOIN users u "
        "ON u.id = ua.user_id WHERE u.username = 'cadre001' AND h.cadre = 'cadre001'").fetchone()[0]
    rows = page.get_by_test_id("my-household")
    expect(rows).to_have_count(expected)
    states = [rows.nth(i).get_attribute("data-state") for i in range(expected)]
    needing = [s in NEEDS_VISIT for s in states]
    assert needing == sorted(needing, reverse=True), states  # every household that needs a visit comes first
    to_visit = page.get_by_test_id("card-to-visit")
    expect(to_visit).to_have_attribute("data-count", str(sum(needing)))
    fits_phone(page)
    screenshot(page, "home-cadre-today", "phone")
    page.get_by_test_id("collect-help").locator("summary").click()
    expect(page.get_by_test_id("collect-help")).to_contain_text("填写空白表单")
    screenshot(page, "home-cadre-help", "phone", full_page=False)


def test_a_cadre_finds_a_household_by_its_number(open_page, fits_phone, screenshot):
    page = open_page("cadre001", "phone", "/")
    number = page.get_by_test_id("my-household").last.get_attribute("data-number")
    page.get_by_test_id("household-search").fill(number)
    page.get_by_role("button", name="查找").click()
    expect(page.get_by_test_id("my-household")).to_have_count(1)
    expect(page.get_by_test_id("my-household")).to_have_attribute("data-number", number)
    fits_phone(page)
    screenshot(page, "home-cadre-search", "phone")
    page.get_by_test_id("my-household").locator("a.home-head").click()
    expect(page).to_have_url(re.compile(rf"/households/{number}$"))


def test_a_supervisors_home_opens_the_list_behind_a_number(open_page, fits_phone, screenshot):
    page = open_page("county", "phone", "/")
    expect(page.get_by_test_id("trend-chart")).to_be_visible()
    expect(page.get_by_test_id("area-rows")).to_be_visible()
    fits_phone(page)
    screenshot(page, "home-supervisor", "phone")
    card = page.get_by_test_id("card-not-visited")
    count = card.get_attribute("data-count")
    card.get_by_test_id("card-link").click()
    expect(page.get_by_test_id("list-count")).to_contain_text(f"共 {count} 户")
    fits_phone(page)


def test_a_town_supervisor_sees_the_villages_worst_first(open_page, fits_phone, screenshot):
    page = open_page("town1", "phone", "/")
    rows = page.get_by_test_id("area-row")
    expect(rows.first).to_be_visible()
    pcts = [float(p) for p in (rows.nth(i).get_attribute("data-pct") for i in range(rows.count())) if p]
    assert pcts == sorted(pcts)
    fits_phone(page)
    screenshot(page, "home-town-supervisor", "phone")
