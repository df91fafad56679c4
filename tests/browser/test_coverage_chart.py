"""The coverage page's six-month chart on a 390 px phone in Chinese (issue 17 item 8): the months before the demo's
two months of visits draw no bar and say 无数据, the bars' figures are percentages."""
import re

import pytest
from playwright.sync_api import expect

pytestmark = pytest.mark.browser


def test_the_trend_chart_says_no_data_instead_of_zero_bars(open_page, fits_phone, screenshot):
    page = open_page("county", "phone", "/coverage/")
    chart = page.get_by_test_id("trend-chart")
    expect(chart).to_be_visible()
    empty = chart.locator("[data-no-data]")
    expect(empty).to_have_count(4)
    for i in range(4):
        expect(empty.nth(i).locator("rect")).to_have_count(0)
        expect(empty.nth(i).locator("text.cov-no-data")).to_have_text("无数据")
    values = chart.get_by_test_id("trend-value")
    expect(values).to_have_count(2)
    for text in values.all_text_contents():  # SVG text has no innerText
        assert re.fullmatch(r"\d{1,3}%", text), text
    fits_phone(page)
    chart.scroll_into_view_if_needed()
    screenshot(page, "coverage-trend-chart", "phone", full_page=False)
