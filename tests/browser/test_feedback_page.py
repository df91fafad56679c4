"""Feedback to the cadre on a 390 px phone (issue 15): the supervisor returns a visit with a comment; its sender
opens it from the household's file, reads the comment and replies on the page; the notice then says it is
answered."""
import pytest
import requests
from playwright.sync_api import expect

from conftest import DEMO_PASSWORD

pytestmark = pytest.mark.browser

COMMENT = "照片时间与走访时间不符，请重新入户拍照"
REPLY = "手机时间设置错了，已改正后重新拍照"


@pytest.fixture
def returned_visit(demo_server, demo_db):
    """cadre001's oldest current visit (the lists' first rows stay as other tests expect them), returned by the
    county supervisor with a comment: (household number, instance id)."""
    number, instance_id = demo_db.execute(
        "SELECT s.household_number, s.instance_id FROM submissions s JOIN users u ON u.id = s.submitter_id "
        "JOIN forms f ON f.id = s.form_id JOIN visits v ON v.submission_id = s.id "
        "WHERE u.username = 'cadre001' AND f.xml_form_id = 'household_visit' AND s.current "
        "AND s.review_state = 'received' ORDER BY s.received_at, s.id LIMIT 1").fetchone()
    response = requests.post(f"{demo_server.base_url}/api/v1/submissions/household_visit/{instance_id}/review",
                             json={"state": "has_issues", "comment": COMMENT}, auth=("county", DEMO_PASSWORD),
                             timeout=30)
    assert response.status_code == 200, response.text
    return number, instance_id


def test_the_cadre_reads_the_return_on_a_phone_and_replies(open_page, fits_phone, screenshot, returned_visit):
    number, instance_id = returned_visit
    page = open_page("cadre001", "phone", f"/households/{number}")
    notice = page.get_by_test_id("household-returned")
    expect(notice).to_be_visible()
    expect(notice.get_by_test_id("returned-comment")).to_have_text(COMMENT)
    fits_phone(page)
    screenshot(page, "feedback-household-file", "phone", full_page=False)

    notice.get_by_test_id("returned-link").click()
    page.wait_for_load_state()
    assert instance_id in page.url
    returned = page.get_by_test_id("submission-returned")
    expect(returned.get_by_test_id("feedback-state")).to_have_text("待整改")
    expect(returned.get_by_test_id("returned-comment")).to_have_text(COMMENT)
    form = page.get_by_test_id("reply-form")
    expect(form).to_be_visible()
    fits_phone(page)
    screenshot(page, "feedback-returned-submission", "phone", full_page=False)
    form.scroll_into_view_if_needed()
    screenshot(page, "feedback-reply-form", "phone", full_page=False)

    form.locator("textarea[name=comment]").fill(REPLY)
    form.get_by_role("button", name="回复").click()
    page.wait_for_load_state()
    expect(page.get_by_test_id("flash-ok")).to_be_visible()
    expect(page.get_by_test_id("submission-returned").get_by_test_id("feedback-state")).to_have_text("已答复")
    expect(page.get_by_test_id("review-comment").last).to_contain_text(REPLY)
    expect(page.get_by_test_id("reply-form")).to_be_visible()
    fits_phone(page)
    screenshot(page, "feedback-answered", "phone", full_page=False)
