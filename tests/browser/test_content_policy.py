"""The pages under their Content-Security-Policy in a real browser: nothing they need is refused, and an area
name that is HTML shows on the map as text."""
import sqlite3

import pytest
from playwright.sync_api import expect

pytestmark = pytest.mark.browser
VILLAGE_1 = "210504001001"
HOSTILE = '<img src=x onerror="window.__pwned = 1">'

PAGES = ["/", "/coverage/", "/coverage/not-visited", "/coverage/households?state=verified", "/map/",
         "/households/", "/review/", "/review/conflicts", "/review/quality", "/review/visits", "/admin/",
         "/admin/users", "/admin/areas", "/admin/roster", "/users/1/devices"]


def refusals(page) -> list[str]:
    """What the browser reports refusing under the page's policy, from now on."""
    refused: list[str] = []
    page.on("console", lambda message: refused.append(message.text)
            if "Content Security Policy" in message.text else None)
    return refused


def test_the_pages_load_without_a_policy_violation(new_context, login_states, demo_db):
    page = new_context("desktop", login_states("admin")).new_page()
    refused = refusals(page)
    number, instance = demo_db.execute(
        "SELECT s.household_number, s.instance_id FROM submissions s JOIN submission_attachments a "
        "ON a.submission_id = s.id WHERE a.thumb_sha256 IS NOT NULL ORDER BY s.id LIMIT 1").fetchone()
    household = [f"/households/{number}", f"/households/{number}/submissions/household_visit/{instance}"]
    for path in PAGES + household:
        response = page.goto(path)
        assert response.status == 200, path
        assert "default-src 'self'" in response.headers["content-security-policy"], path
        page.wait_for_load_state("load")
    page.goto(household[0])
    thumb = page.get_by_test_id("photo-thumb").first
    thumb.scroll_into_view_if_needed()
    page.wait_for_function("img => img.complete && img.naturalWidth > 0",
                           arg=thumb.locator("img").element_handle())
    thumb.click()
    expect(page.get_by_test_id("photo-close").first).to_be_visible()
    login = new_context("phone").new_page()
    refused_at_login = refusals(login)
    login.goto("/login")
    login.wait_for_load_state("load")
    assert refused == [] and refused_at_login == []


@pytest.fixture
def hostile_village(demo_server):
    """Village 1 renamed to a piece of HTML for the test, as an areas import could name it."""
    database = sqlite3.connect(demo_server.data_dir / "zoufang.sqlite3", timeout=30)
    (name,) = database.execute("SELECT name FROM areas WHERE code = ?", (VILLAGE_1,)).fetchone()
    with database:
        database.execute("UPDATE areas SET name = ? WHERE code = ?", (HOSTILE, VILLAGE_1))
    yield HOSTILE
    with database:
        database.execute("UPDATE areas SET name = ? WHERE code = ?", (name, VILLAGE_1))
    database.close()


def test_the_map_shows_a_hostile_area_name_as_text(new_context, login_states, hostile_village):
    page = new_context("desktop", login_states("county")).new_page()
    refused = refusals(page)
    page.goto("/map/?area=210504001")
    expect(page.get_by_test_id("map")).to_have_attribute("data-ready", "1")
    label = page.locator(".village-label", has_text=hostile_village)
    expect(label).to_have_count(1)
    assert page.locator(".village-label img").count() == 0
    assert page.evaluate("window.__pwned") is None
    assert refused == []
