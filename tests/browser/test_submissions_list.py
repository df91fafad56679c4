"""The review page's submissions list on a 390 px phone in Chinese (issue 17 item 9): each row says when the form
was filled, the household's number and head, the sender by display name, the evidence verdict and why, and the
review state; the filters narrow it to the questionable visits."""
import re

import pytest
from playwright.sync_api import expect

pytestmark = pytest.mark.browser


def test_the_submissions_list_names_the_household_the_sender_and_the_verdict(open_page, fits_phone, screenshot,
                                                                             demo_db):
    logins = {name for (name,) in demo_db.execute("SELECT username FROM users")}
    page = open_page("county", "phone", "/review/")
    rows = page.get_by_test_id("submission-row")
    expect(rows.first).to_be_visible()
    first = rows.first
    expect(first.get_by_test_id("filled-at")).to_have_text(re.compile(r"^填表 \d{4}-\d\d-\d\d \d\d:\d\d$"))
    expect(first.get_by_test_id("head")).not_to_be_empty()
    sender = first.get_by_test_id("sender").inner_text()
    assert sender and sender not in logins, f"{sender!r} is a login name"
    expect(first.get_by_test_id("review-state")).to_have_text("已接收")
    fits_phone(page)
    screenshot(page, "review-submissions", "phone", full_page=False)

    page.locator("select[name=verdict]").select_option("questionable")
    page.locator("select[name=form]").select_option("household_visit")
    page.get_by_role("button", name="筛选").click()
    page.wait_for_load_state()
    assert "verdict=questionable" in page.url
    questionable = page.get_by_test_id("submission-row")
    expect(questionable.first).to_be_visible()
    for i in range(min(questionable.count(), 5)):
        row = questionable.nth(i)
        expect(row.get_by_test_id("verdict")).to_have_text("存疑")
        expect(row.get_by_test_id("verdict-reasons").locator("li").first).to_be_visible()  # and why
    fits_phone(page)
    screenshot(page, "review-submissions-questionable", "phone", full_page=False)
