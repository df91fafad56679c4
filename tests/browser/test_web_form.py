"""The web form /fill/<form_id> at 390 px (issue 20): a cadre fills the visit form in the browser — picks a
household from their own list, takes the location, attaches a photo — and sends it through /submission, the
pipeline Collect's uploads take; the household's record then shows the visit. No request leaves the server, and
the page runs without the browser's XSLT (the server applies enketo-transformer's stylesheets, and gives what
Chromium's own XSLTProcessor gives)."""
import base64
import datetime as dt
import io
import re
import time
from pathlib import Path

import pytest
import requests
from lxml import etree
from PIL import ExifTags, Image
from playwright.sync_api import expect

from conftest import DEMO_PASSWORD
from forms.compile import compile_xlsform
from forms.web_transform import FORM_SHEET, MODEL_SHEET, SHEETS, prepared, transform
from support import make_jpeg, visit_xml

pytestmark = pytest.mark.browser
CHINA = dt.timezone(dt.timedelta(hours=8))


def open_form(new_context, login_states, demo_server, path: str, position: dict | None = None):
    """A cadre's phone with the web form open and ready; requests for anything outside the server are recorded."""
    context = new_context("phone", login_states("cadre001"))
    # as Chrome from version 155 on (XSLT no longer runs on Stable): the page must not need the browser's XSLT
    context.add_init_script("delete window.XSLTProcessor;")
    if position:
        context.grant_permissions(["geolocation"], origin=demo_server.base_url)
        context.set_geolocation(position)
    page = context.new_page()
    page.outside = []
    page.on("request", lambda r: None if r.url.startswith((demo_server.base_url, "data:", "blob:"))
            else page.outside.append(r.url))
    page.goto(path)
    expect(page.get_by_test_id("fill")).to_have_attribute("data-ready", "true")
    return page


#: in a page, what Chromium's own XSLTProcessor makes of the prepared form with a stylesheet, and what the page
#: makes of the server's result for it (webforms/src/xslt.js: the result's text parsed as its output method says).
#: Of the HTML form: the <root> element's namespace declarations as a set (Chromium writes them in another order;
#: enketo-transformer drops that tag) and everything inside it
COMPARE_XSLT = """([sheet, source, served, html]) => {
    const parse = (text) => new DOMParser().parseFromString(text, 'text/xml');
    const processor = new XSLTProcessor();
    processor.importStylesheet(parse(sheet));
    const native = processor.transformToDocument(parse(source));
    const page = new DOMParser().parseFromString(served, html ? 'text/html' : 'text/xml');
    const text = (doc) => {
        if (!html) {
            return new XMLSerializer().serializeToString(doc);
        }
        const root = doc.getElementsByTagName('root')[0];
        return [...root.attributes].map((a) => `${a.name}=${a.value}`).sort().join(' ') + root.innerHTML;
    };
    return [text(native), text(page)];
}"""


@pytest.mark.parametrize("xlsform", ["household_visit", "housing_assessment", "income_survey", "household_report",
                                     "monitoring_report"])
def test_the_servers_xslt_gives_the_page_what_chromiums_own_xsltprocessor_gave(xlsform, browser):
    """The page once ran enketo-transformer's stylesheets with the browser's XSLTProcessor; now the server runs
    them with libxslt (forms/web_transform.py). For each bundled form both give the same documents, so the page
    builds the same form as before."""
    context = browser.new_context()
    page = context.new_page()
    if not page.evaluate("typeof XSLTProcessor === 'function'"):
        context.close()
        pytest.skip("this Chromium no longer has XSLT to compare with")
    path = Path(__file__).resolve().parents[2] / "forms" / "xlsforms" / f"{xlsform}.xlsx"
    xform = compile_xlsform(path.read_bytes(), path.name).xform
    source = etree.tostring(prepared(xform), encoding="unicode")
    done = transform(xform)
    for sheet, served, html in ((FORM_SHEET, done.form, True), (MODEL_SHEET, done.model, False)):
        native, ours = page.evaluate(COMPARE_XSLT, [(SHEETS / sheet).read_text(), source, served, html])
        assert len(ours) > 1000 and ours == native, sheet
    context.close()


def question(page, name: str):
    return page.locator(f".question:has([name$='/{name}'])").first


def choose(page, name: str, value: str) -> None:
    """Taps the choice `value` of a select-one or select-multiple question."""
    page.locator(f"input[name$='/{name}'][value='{value}']").check()


def test_a_cadre_fills_and_sends_the_visit_form_and_the_household_record_shows_it(
        new_context, login_states, demo_server, demo_db, tmp_path, screenshot):
    number, head, latitude, longitude = demo_db.execute(
        "SELECT h.number, h.head_name, h.latitude, h.longitude FROM households h JOIN areas a ON a.id = h.area_id "
        "WHERE a.code = '210504001001' AND h.cadre = 'cadre001' AND h.latitude IS NOT NULL "
        "ORDER BY h.number LIMIT 1").fetchone()
    page = open_form(new_context, login_states, demo_server, "/fill/household_visit",
                     {"latitude": latitude, "longitude": longitude, "accuracy": 5})
    # the household, picked from the cadre's own list (households.csv) by typing its number
    picker = question(page, "household").locator("input.autocomplete")
    picker.fill(number)
    option = page.locator(f"datalist option[data-value='{number}']")
    picker.fill(option.get_attribute("value"))
    picker.dispatch_event("change")
    expect(page.locator(".question-label.active", has_text=f"户编号 {number}：户主 {head}")).to_be_visible()
    choose(page, "visit_outcome", "visited")
    question(page, "gps").locator("button[name=geodetect]").click()
    expect(question(page, "gps").locator("input[name=lat]")).to_have_value(str(latitude))
    # a phone's photo, larger than the form's max-pixels (1280) and turned by its EXIF orientation (6: 90°)
    taken = dt.datetime.now(CHINA).strftime("%Y:%m:%d %H:%M:%S")
    photo = tmp_path / "family.jpg"
    photo.write_bytes(make_jpeg((2000, 1500), orientation=6, taken=taken))
    family = question(page, "photo_family").locator("input[type=file]")
    family.set_input_files(str(photo))
    expect(family).to_have_attribute("data-resized", "true")
    resized = Image.open(io.BytesIO(base64.b64decode(family.get_attribute("data-resized-data-u-r-i").split(",")[1])))
    assert resized.size == (960, 1280)  # upright, at most 1280 px a side, as Collect sends it
    exif = resized.getexif()
    assert exif.get(ExifTags.Base.Orientation) == 1
    assert exif.get_ifd(ExifTags.IFD.Exif).get(ExifTags.Base.DateTimeOriginal) == taken  # the evidence stays
    small = tmp_path / "sign.jpg"
    small.write_bytes(make_jpeg())
    for name in ("food_secure", "clothing_secure", "all_insured", "water_quantity", "water_quality",
                 "water_convenience", "water_reliability", "housing_sign_present", "water_sign_present"):
        choose(page, name, "yes")
    question(page, "children_6_15").locator("input").fill("0")
    choose(page, "chronic_signed", "na")
    if question(page, "renovated").is_visible():  # a C/D house: renovated, lived in, the old one pulled down
        choose(page, "renovated", "yes")
    choose(page, "house_safe", "yes")
    choose(page, "water_source", "central_tap")
    for name in ("photo_housing_sign", "photo_water_sign"):
        question(page, name).locator("input[type=file]").set_input_files(str(small))
    choose(page, "problems", "none")
    choose(page, "has_member_changes", "no")
    screenshot(page, "fill-visit-filled", "phone")
    today = page.evaluate("new Date().toLocaleDateString('sv')")  # the phone's date, YYYY-MM-DD
    page.get_by_test_id("fill-send").click()
    expect(page.get_by_test_id("fill-done")).to_be_visible(timeout=20_000)
    expect(page.get_by_test_id("fill-send")).to_be_hidden()  # no second send of the same form
    screenshot(page, "fill-visit-sent", "phone")
    instance_id = page.get_by_test_id("fill").get_attribute("data-sent")
    assert instance_id.startswith("uuid:")
    assert page.outside == []
    page.get_by_role("button", name="再填一份").click()  # the next household: an empty form
    expect(page.get_by_test_id("fill")).to_have_attribute("data-ready", "true")
    expect(question(page, "household").locator("input.autocomplete")).to_have_value("")

    # the household's record, once the worker has reconciled the submission
    deadline = time.monotonic() + 30
    while True:
        record = requests.get(f"{demo_server.base_url}/api/v1/households/{number}", auth=("admin", "admin-demo-pw"),
                              timeout=10).json()
        last_visit = record["fields"].get("last_visit", {})
        if last_visit.get("instance_id") == instance_id or time.monotonic() > deadline:
            break
        time.sleep(0.5)
    assert last_visit.get("instance_id") == instance_id, last_visit
    assert last_visit["value"] == today and last_visit["by"] == "cadre001"


# visible text and labels in Latin letters: a word of the engine left in English (form content is all Chinese,
# but for single letters such as the grades A–D, and the abbreviations Chinese text uses too: MB, API); the
# language switch of the top bar says "English" on purpose
ENGLISH_SHOWN = """() => {
    const latin = /[A-Za-z]{2,}/g;
    const words = { test: (text) => (text.match(latin) || []).some((word) => !['MB', 'KB', 'API'].includes(word)) };
    const skip = (el) => el.closest('[data-testid=switch-language]');
    const shown = (el) => el.checkVisibility({ visibilityProperty: true, opacityProperty: true });
    const found = [];
    const walker = document.createTreeWalker(document.body, NodeFilter.SHOW_TEXT);
    for (let node = walker.nextNode(); node; node = walker.nextNode()) {
        const el = node.parentElement;
        if (words.test(node.textContent) && !skip(el) && shown(el) && el.tagName !== 'SCRIPT') {
            found.push(node.textContent.trim());
        }
    }
    document.querySelectorAll('[placeholder], [title], [aria-label], input[type=button], input[type=submit]')
        .forEach((el) => {
            ['placeholder', 'title', 'aria-label', 'value'].forEach((name) => {
                const text = el.getAttribute(name) || '';
                if (words.test(text) && !skip(el) && shown(el) && (name !== 'value' || el.type !== 'text')) {
                    found.push(`${el.tagName.toLowerCase()}[${name}]: ${text}`);
                }
            });
        });
    if (words.test(document.title)) {
        found.push(`title: ${document.title}`);
    }
    return found;
}"""


@pytest.mark.parametrize("form_id", ["household_visit", "housing_assessment", "income_survey", "monitoring_report"])
def test_no_english_shows_on_the_web_form(form_id, new_context, login_states, demo_server, demo_db, screenshot,
                                         fits_phone):
    number = demo_db.execute("SELECT h.number FROM households h JOIN areas a ON a.id = h.area_id "
                             "WHERE a.code = '210504001001' ORDER BY h.number LIMIT 1").fetchone()[0]
    page = open_form(new_context, login_states, demo_server, f"/fill/{form_id}?household={number}")
    if form_id == "household_visit":  # the checklist and the member changes' repeat
        choose(page, "visit_outcome", "visited")
        choose(page, "has_member_changes", "yes")
    page.get_by_test_id("fill-send").click()  # every required question says so
    expect(page.locator(".invalid-required").first).to_be_visible()
    screenshot(page, f"fill-{form_id}-required", "phone")
    fits_phone(page)
    assert page.evaluate(ENGLISH_SHOWN) == []
    page.locator(".question input.mask-date, .question .date input").first.click()  # the date picker
    screenshot(page, f"fill-{form_id}-date", "phone", full_page=False)
    assert page.evaluate(ENGLISH_SHOWN) == []
    assert page.outside == []


def pick_household(page, number: str) -> None:
    picker = question(page, "household").locator("input.autocomplete")
    picker.fill(page.locator(f"datalist option[data-value='{number}']").get_attribute("value"))
    picker.dispatch_event("change")


def fill_not_home(page, number: str) -> None:
    """The shortest visit form: nobody at home, with a note and the location at the door."""
    pick_household(page, number)
    choose(page, "visit_outcome", "not_home")
    question(page, "absent_note").locator("textarea").fill("外出务工，电话联系下周再访")
    question(page, "gps").locator("button[name=geodetect]").click()
    expect(question(page, "gps").locator("input[name=lat]")).not_to_have_value("")


def test_offline_the_form_opens_and_keeps_what_is_sent_until_online_then_each_arrives_once(
        new_context, login_states, demo_server, demo_db):
    households = demo_db.execute(
        "SELECT h.number, h.latitude, h.longitude FROM households h JOIN areas a ON a.id = h.area_id "
        "WHERE a.code = '210504001001' AND h.latitude IS NOT NULL ORDER BY h.number DESC LIMIT 2").fetchall()
    _, latitude, longitude = households[0]
    page = open_form(new_context, login_states, demo_server, "/fill/household_visit",
                     {"latitude": latitude, "longitude": longitude, "accuracy": 5})
    shell = page.get_by_test_id("fill")
    expect(shell).to_have_attribute("data-offline", "ready")  # the page, the form and the list are kept
    page.wait_for_function("navigator.serviceWorker.controller !== null")
    page.context.set_offline(True)
    sent = []
    for number, _lat, _lon in households:  # nobody at home twice: the shortest visit form
        fill_not_home(page, number)
        page.get_by_test_id("fill-send").click()
        expect(page.get_by_text("已保存在本机，联网后自动发送。")).to_be_visible()
        sent.append(shell.get_attribute("data-sent"))
        page.get_by_role("button", name="再填一份").click()  # offline: the page comes from the phone
        expect(shell).to_have_attribute("data-ready", "true")
    expect(page.get_by_test_id("fill-queue")).to_contain_text("2 条待发送")
    page.reload()  # as after closing the tab: the queue is in the phone's storage
    expect(shell).to_have_attribute("data-ready", "true")
    expect(page.get_by_test_id("fill-queue")).to_contain_text("2 条待发送")
    assert len(set(sent)) == 2 and demo_db.execute(
        f"SELECT count(*) FROM submissions WHERE instance_id IN ({', '.join('?' * len(sent))})", sent
    ).fetchone()[0] == 0

    page.context.set_offline(False)  # back online: sent by themselves, oldest first
    expect(page.get_by_test_id("fill-queue")).to_be_hidden(timeout=20_000)
    arrived = demo_db.execute(
        f"SELECT instance_id, count(*) FROM submissions WHERE instance_id IN ({', '.join('?' * len(sent))}) "
        "GROUP BY instance_id", sent).fetchall()
    assert sorted(arrived) == sorted((instance_id, 1) for instance_id in sent)


def test_a_sent_visit_is_edited_in_the_page_and_replaces_the_original_keeping_its_base_and_photo(
        new_context, login_states, demo_server, demo_db, screenshot, fits_phone):
    """Edit mode (issue 20): the cadre opens their sent visit from its page, changes an answer and sends; the
    server has a new current version naming the old one as deprecatedID, made from the same entity baseVersion,
    with the family photo kept though the edit did not send it again (sync/submissions.py `_fill`)."""
    number = demo_db.execute(
        "SELECT h.number FROM households h JOIN areas a ON a.id = h.area_id "
        "WHERE a.code = '210504001001' AND h.cadre = 'cadre001' ORDER BY h.number LIMIT 1 OFFSET 1").fetchone()[0]
    photos = {"family.jpg": make_jpeg((640, 480)), "sign1.jpg": make_jpeg(), "sign2.jpg": make_jpeg()}
    # yesterday's visit: within the form's 7 days, whatever the phone's time zone
    end = (dt.datetime.now(CHINA) - dt.timedelta(days=1)).isoformat(timespec="seconds")
    xml = visit_xml(number, end=end, food="no", base_version=1,
                    answers={"signs/photo_housing_sign": "sign1.jpg", "signs/photo_water_sign": "sign2.jpg"})
    sent = requests.post(f"{demo_server.base_url}/submission", auth=("cadre001", DEMO_PASSWORD), timeout=10,
                         headers={"X-OpenRosa-Version": "1.0"},
                         files={"xml_submission_file": ("submission.xml", xml, "text/xml"),
                                **{name: (name, body, "image/jpeg") for name, body in photos.items()}})
    assert sent.status_code == 201, sent.text
    old = xml.decode().split("<instanceID>")[1].split("<")[0]

    page = new_context("phone", login_states("cadre001")).new_page()
    page.outside = []
    page.on("request", lambda r: None if r.url.startswith((demo_server.base_url, "data:", "blob:"))
            else page.outside.append(r.url))
    page.goto(f"/households/{number}/submissions/household_visit/{old}")  # the visit's page, as the cadre finds it
    page.get_by_test_id("web-edit").click()
    expect(page.get_by_test_id("fill")).to_have_attribute("data-ready", "true")
    expect(page.get_by_test_id("fill-editing")).to_be_visible()
    expect(page.locator("input[name$='/food_secure'][value='no']")).to_be_checked()  # the answers as sent
    expect(question(page, "photo_family").locator("img")).to_have_attribute("src", re.compile("/files/family.jpg$"))
    choose(page, "food_secure", "yes")
    fits_phone(page)
    screenshot(page, "fill-visit-edit", "phone")
    page.get_by_test_id("fill-send").click()
    expect(page.get_by_test_id("fill-done")).to_be_visible(timeout=20_000)
    new = page.get_by_test_id("fill").get_attribute("data-sent")
    assert new.startswith("uuid:") and new != old
    assert page.outside == []

    rows = dict(demo_db.execute("SELECT instance_id, current FROM submissions WHERE instance_id IN (?, ?)",
                                (old, new)).fetchall())
    assert rows == {old: 0, new: 1}
    deprecated, edited_xml = demo_db.execute("SELECT deprecated_id, xml FROM submissions WHERE instance_id = ?",
                                             (new,)).fetchone()
    assert deprecated == old
    edited_xml = edited_xml.decode() if isinstance(edited_xml, bytes) else edited_xml
    assert "<food_secure>yes</food_secure>" in edited_xml
    assert re.search(r'<entity [^>]*baseVersion="1"', edited_xml), edited_xml  # the version it was made from
    kept = dict(demo_db.execute(
        "SELECT a.filename, a.sha256 FROM submission_attachments a JOIN submissions s ON s.id = a.submission_id "
        "WHERE s.instance_id = ? AND a.filename = 'family.jpg'", (new,)).fetchall())
    original = dict(demo_db.execute(
        "SELECT a.filename, a.sha256 FROM submission_attachments a JOIN submissions s ON s.id = a.submission_id "
        "WHERE s.instance_id = ? AND a.filename = 'family.jpg'", (old,)).fetchall())
    assert kept == original and kept["family.jpg"]


def test_a_submission_the_server_refuses_is_set_aside_with_its_reason_and_the_next_is_sent(
        new_context, login_states, demo_server, demo_db, screenshot):
    """One bad submission never blocks another, in the phone's queue too: a refusal that sending again will not
    change (here XML the server cannot read, queued before) keeps that submission aside with the server's reason,
    the visit after it is sent, and the refused one is deleted only by the user."""
    number, latitude, longitude = demo_db.execute(
        "SELECT h.number, h.latitude, h.longitude FROM households h JOIN areas a ON a.id = h.area_id "
        "WHERE a.code = '210504001001' AND h.latitude IS NOT NULL ORDER BY h.number LIMIT 1").fetchone()
    page = open_form(new_context, login_states, demo_server, "/fill/household_visit",
                     {"latitude": latitude, "longitude": longitude, "accuracy": 5})
    page.evaluate("""() => new Promise((resolve, reject) => {
        const request = indexedDB.open('zoufang-fill', 1);
        request.onsuccess = () => {
            const transaction = request.result.transaction('outbox', 'readwrite');
            transaction.objectStore('outbox').put({id: 'uuid:broken-on-the-phone', created: 1,
                                                   xml: '<data><meta><instanceID>uuid:broken', files: []});
            transaction.oncomplete = resolve;
            transaction.onerror = reject;
        };
        request.onerror = reject;
    })""")
    fill_not_home(page, number)
    page.get_by_test_id("fill-send").click()
    expect(page.get_by_text("已发送，服务器已收到。")).to_be_visible(timeout=20_000)
    sent = page.get_by_test_id("fill").get_attribute("data-sent")
    assert demo_db.execute("SELECT count(*) FROM submissions WHERE instance_id = ?", (sent,)).fetchone()[0] == 1
    queue = page.get_by_test_id("fill-queue")
    expect(queue).to_contain_text("1 条待发送，其中 1 条被服务器拒收")
    expect(page.get_by_test_id("fill-refused")).to_contain_text("（400）")
    screenshot(page, "fill-refused", "phone", full_page=False)
    page.reload()  # set aside, not lost
    expect(queue).to_contain_text("被服务器拒收")
    page.once("dialog", lambda dialog: dialog.accept())
    page.get_by_test_id("fill-refused").get_by_role("button", name="删除").click()
    expect(queue).to_be_hidden()
