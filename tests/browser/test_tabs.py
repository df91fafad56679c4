"""Tabs on a 390 px phone, in Chinese and English (issue 17 item 6): every section of the top bar and every sub-tab
of the admin and review pages is on the screen, whole, without scrolling sideways (a row that scrolled used to
cut 行政区域 to "行" and hide Review and Admin in English), and each tab opens its page with itself marked
current and visible."""
import pytest
from playwright.sync_api import expect

pytestmark = pytest.mark.browser

NAVS = ("nav.sections", "nav.tabs")


def assert_whole_on_screen(page, link) -> None:
    """The link is visible, inside the screen's width, and its text is not cut by its box or an ancestor's."""
    expect(link).to_be_visible()
    box = link.bounding_box()
    width = page.viewport_size["width"]
    name = link.inner_text()
    assert box is not None and box["x"] >= 0 and box["x"] + box["width"] <= width, f"{name!r} is off screen: {box}"
    assert link.evaluate("a => a.scrollWidth <= a.clientWidth"), f"{name!r} is cut"
    assert link.evaluate("a => { for (let e = a.parentElement; e; e = e.parentElement) {"
                         " if (e.scrollWidth > e.clientWidth + 1) return false; } return true; }"), \
        f"an ancestor of {name!r} scrolls sideways"


def check_navs(page) -> None:
    for nav in NAVS:
        links = page.locator(f"{nav} a")
        for i in range(links.count()):
            assert_whole_on_screen(page, links.nth(i))
        current = page.locator(f"{nav} a[aria-current=page]")
        if page.locator(nav).count():
            expect(current).to_have_count(1)
            assert_whole_on_screen(page, current)


@pytest.mark.parametrize("lang", ["zh", "en"])
@pytest.mark.parametrize("start, nav_testid, count", [("/admin/", "admin-tabs", 6), ("/review/", "review-tabs", 6),
                                                     ("/renovation/", "ledger-tabs", 4)])
def test_every_tab_fits_a_phone_and_opens_with_itself_current(open_page, fits_phone, screenshot, lang, start,
                                                              nav_testid, count):
    page = open_page("admin", "phone", f"{start}?lang={lang}")
    check_navs(page)
    tabs = page.get_by_test_id(nav_testid).locator("a")
    hrefs = [tabs.nth(i).get_attribute("href") for i in range(tabs.count())]
    assert len(hrefs) == count
    for i, href in enumerate(hrefs):
        page.get_by_test_id(nav_testid).locator("a").nth(i).click()
        page.wait_for_load_state()
        assert page.url.split("?")[0].endswith(href.split("?")[0])
        check_navs(page)
        expect(page.get_by_test_id(nav_testid).locator("a").nth(i)).to_have_attribute("aria-current", "page")
        fits_phone(page)
        screenshot(page, f"tabs-{nav_testid}-{i}-{lang}", "phone", full_page=False)


@pytest.mark.parametrize("lang", ["zh", "en"])
def test_every_section_of_the_top_bar_fits_a_phone(open_page, lang):
    page = open_page("admin", "phone", f"/coverage/?lang={lang}")
    sections = page.locator("nav.sections a")
    expect(sections).to_have_count(6)
    for i in range(6):
        page.locator("nav.sections a").nth(i).click()
        page.wait_for_load_state()
        check_navs(page)
        expect(page.locator("nav.sections a").nth(i)).to_have_attribute("aria-current", "page")
