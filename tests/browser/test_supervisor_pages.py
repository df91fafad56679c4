"""The supervisors' pages on the demo data, in a real browser: coverage drilled down to the not-visited list, the
household file with a photo preview, the map, resolving a conflict, publishing a broken XLSForm, and area
scoping (another area's household is 404 on every page)."""
import json
import re
from pathlib import Path

import pytest
from playwright.sync_api import expect

from support import broken_xlsform

pytestmark = pytest.mark.browser
DEVICES = ("phone", "desktop")
VILLAGE_1, VILLAGE_2 = "210504001001", "210504001002"   # 高峪一村, 高峪二村 (town 1, 高峪街道)
TOWN_2 = "210504002"                                      # 牛心台街道
SAMPLE_ROSTER = Path(__file__).resolve().parents[2] / "sync" / "samples" / "roster.csv"
SCREENSHOTS_DIR = Path(__file__).resolve().parents[2] / "test-artifacts" / "screenshots"


def most(rows, attribute: str):
    """The row with the largest number in a data- attribute."""
    best = max(range(rows.count()), key=lambda i: int(rows.nth(i).get_attribute(attribute) or 0))
    return rows.nth(best)


def test_coverage_drills_from_town_to_village_to_the_not_visited_list(open_page, shoot, screenshot):
    pages = shoot("coverage-county", "/coverage/", user="county", ready="[data-testid=coverage-table]")
    page = pages["phone"]  # supervisors mostly look at this on a phone
    # the sample roster's 113 and the household the demo registers from a report outside the roster (应纳尽纳)
    expect(page.get_by_test_id("coverage-total")).to_have_attribute("data-assigned", "114")
    expect(page.get_by_test_id("trend-chart")).to_be_visible()
    towns = page.get_by_test_id("coverage-row")
    expect(towns).to_have_count(3)
    town = most(towns, "data-not-visited")
    town_name = town.get_by_test_id("drill-down").inner_text()
    town.get_by_test_id("drill-down").click()
    expect(page.locator("h1")).to_contain_text(town_name)
    shoot("coverage-town", page.url, user="county")

    villages = page.get_by_test_id("coverage-row")
    expect(villages).to_have_count(2)
    village = most(villages, "data-not-visited")
    village_name = village.get_by_test_id("drill-down").inner_text()
    village.get_by_test_id("drill-down").click()
    expect(page.locator("h1")).to_contain_text(village_name)
    not_visited = int(page.get_by_test_id("coverage-total").get_attribute("data-not-visited"))
    assert not_visited > 0
    shoot("coverage-village", page.url, user="county")

    page.get_by_test_id("not-visited-link").click()
    expect(page.get_by_test_id("list-title")).to_contain_text("未走访名单")
    expect(page.get_by_test_id("list-title")).to_contain_text(village_name)
    expect(page.get_by_test_id("household")).to_have_count(not_visited)
    assert page.get_by_test_id("cadre-group").count() >= 1  # grouped by the cadre to call
    shoot("coverage-not-visited", page.url, user="county")

    by_cadre = open_page("county", "desktop", "/coverage/?by=cadre")
    expect(by_cadre.get_by_test_id("coverage-row").first).to_have_attribute("data-kind", "cadre")
    screenshot(by_cadre, "coverage-by-cadre", "desktop")


def table_overflow(page) -> int:
    """How many pixels the coverage table is wider than its box (which would scroll sideways inside the page)."""
    return page.locator(".cov-scroll").evaluate("box => box.scrollWidth - box.clientWidth")


@pytest.mark.parametrize("lang, questionable", [("en", "In doubt"), ("zh", "存疑户")])
@pytest.mark.parametrize("by", ["area", "cadre"])
def test_the_coverage_table_fits_a_phone_in_english_and_chinese(open_page, fits_phone, screenshot, lang,
                                                                questionable, by):
    page = open_page("county", "phone", f"/coverage/?by={by}&lang={lang}")
    expect(page.locator("html")).to_have_attribute("lang", "en" if lang == "en" else "zh-CN")
    expect(page.get_by_test_id("coverage-row").first).to_be_visible()
    headers = page.locator(".cov-table thead")
    expect(headers.get_by_text(questionable, exact=True)).to_be_visible()  # the phone's short header
    fits_phone(page)
    assert table_overflow(page) <= 0, f"the table scrolls sideways by {table_overflow(page)} px"
    screenshot(page, f"coverage-{by}-{lang}", "phone")
    desktop = open_page("county", "desktop", f"/coverage/?by={by}&lang={lang}")
    headers = desktop.locator(".cov-table thead")
    expect(headers.get_by_text("Questionable" if lang == "en" else "存疑", exact=True)).to_be_visible()
    expect(headers.get_by_text(questionable, exact=True)).to_be_hidden()
    assert table_overflow(desktop) <= 0


def test_household_file_opens_a_photo_preview(open_page, shoot, screenshot):
    page = open_page("town1", "phone", "/coverage/households?state=verified")
    first = page.get_by_test_id("household-link").first
    number = first.inner_text().strip()
    first.click()
    expect(page.get_by_test_id("household-number")).to_have_text(number)
    expect(page.get_by_test_id("household-glance")).to_be_visible()
    expect(page.get_by_test_id("household-members")).to_be_visible()
    expect(page.get_by_test_id("timeline-item").first).to_be_visible()
    expect(page.get_by_test_id("visit-verdict").first).to_be_visible()
    shoot("household-file", f"/households/{number}", user="town1")

    thumb = page.get_by_test_id("photo-thumb").first
    thumb.scroll_into_view_if_needed()
    image = thumb.locator("img")
    expect(image).to_be_visible()
    page.wait_for_function("img => img.complete && img.naturalWidth > 0", arg=image.element_handle())
    target = thumb.get_attribute("href")
    thumb.click()
    preview = page.locator(f"[data-testid=photo-preview]{target}")
    expect(preview).to_be_visible()
    big = preview.locator("img")
    page.wait_for_function("img => img.complete && img.naturalWidth > 256", arg=big.element_handle())
    screenshot(page, "household-photo-preview", "phone", full_page=False)
    preview.get_by_test_id("photo-close").click()
    expect(preview).to_be_hidden()

    source = page.get_by_test_id("timeline-source").first
    source.click()
    expect(page.get_by_test_id("submission")).to_be_visible()
    shoot("household-submission", page.url, user="town1")
    shoot("household-list", "/households/", user="town1", ready="[data-testid=household-row]")


def drawn_boxes(page) -> dict[str, list[dict]]:
    """The on-screen rectangles of the map's names, household markers and village circles."""
    return page.evaluate("""() => {
        const rects = sel => [...document.querySelectorAll(sel)].map(el => {
            const r = el.getBoundingClientRect();
            return {left: r.left, top: r.top, right: r.right, bottom: r.bottom, text: el.textContent,
                    households: el.getAttribute("data-households")};
        }).filter(r => r.right > r.left && r.bottom > r.top);
        return {labels: rects("[data-testid=map-label]"), households: rects("[data-testid=map-household]"),
                clusters: rects("[data-testid=map-cluster]")};
    }""")


def overlap(a: dict, b: dict) -> bool:
    return a["left"] < b["right"] and b["left"] < a["right"] and a["top"] < b["bottom"] and b["top"] < a["bottom"]


def assert_names_cover_nothing(page) -> dict[str, list[dict]]:
    boxes = drawn_boxes(page)
    labels = boxes["labels"]
    assert labels, "no village name is drawn"
    for i, label in enumerate(labels):
        for other in labels[i + 1:]:
            assert not overlap(label, other), f"{label['text']} overlaps {other['text']}"
        for marker in boxes["households"] + boxes["clusters"]:
            assert not overlap(label, marker), f"{label['text']} covers a marker"
    return boxes


def test_the_household_file_prints_whole_without_the_site_around_it(open_page, screenshot, demo_db):
    (number,) = demo_db.execute("SELECT h.number FROM households h JOIN visits v ON v.household_id = h.id "
                                "ORDER BY h.number LIMIT 1").fetchone()
    page = open_page("county", "phone", f"/households/{number}")
    button = page.get_by_test_id("print-file")
    expect(button).to_be_visible()  # shown by the script, so it never shows where it could not work
    page.evaluate("window.print = () => { window.printed = true; }")  # no dialog in a headless browser
    button.click()
    assert page.evaluate("window.printed") is True
    assert page.evaluate("[...document.querySelectorAll('details')].every(d => d.open)")
    page.emulate_media(media="print")
    expect(page.locator("nav.sections")).to_be_hidden()
    expect(button).to_be_hidden()
    expect(page.locator(".print-only")).to_contain_text(number)
    expect(page.get_by_test_id("value-source").first).to_be_visible()  # each value's source goes on paper
    screenshot(page, "household-file-print", "phone")
    pdf = page.pdf(format="A4")
    assert pdf.startswith(b"%PDF") and pdf.count(b"/Type /Page") >= 1
    (SCREENSHOTS_DIR / "household-file.pdf").write_bytes(pdf)


def test_the_map_groups_villages_when_zoomed_out_and_names_cover_no_marker(open_page, screenshot):
    # a district on a phone: villages a few pixels apart would be one smudge under their names
    for device in DEVICES:
        page = open_page("county", device, "/map/")
        expect(page.get_by_test_id("map")).to_have_attribute("data-ready", "1")
        boxes = assert_names_cover_nothing(page)
        assert boxes["clusters"], "zoomed out to the district, villages are grouped"
        drawn = sum(int(c["households"]) for c in boxes["clusters"]) + len(boxes["households"])
        assert drawn == 114  # every located household (the registered one too) is in a circle or drawn itself
        screenshot(page, "map-district", device, full_page=False)
        # a tap on a circle zooms to it, until its village's households are drawn one by one
        for _ in range(4):
            if not page.get_by_test_id("map-cluster").count():
                break
            zoom = page.get_by_test_id("map").get_attribute("data-zoom")
            page.get_by_test_id("map-cluster").first.click()
            expect(page.get_by_test_id("map")).not_to_have_attribute("data-zoom", zoom)
        expect(page.locator("[data-testid=map-household]:visible").first).to_be_visible()
        assert_names_cover_nothing(page)
        screenshot(page, "map-village-zoomed", device, full_page=False)
    english = open_page("county", "phone", "/map/?lang=en")
    expect(english.get_by_test_id("map-legend")).to_contain_text("tap to zoom in")


def test_the_map_draws_households_and_visit_points(open_page, screenshot, demo_db, fits_phone):
    for device in DEVICES:
        page = open_page("county", device, f"/map/?area={VILLAGE_1}")
        expect(page.get_by_test_id("map")).to_have_attribute("data-ready", "1")
        expect(page.get_by_test_id("map")).to_have_class(re.compile(r"leaflet-container"))
        legend = {state: int(page.get_by_test_id(f"legend-{state}").inner_text())
                  for state in ("verified", "questionable", "not_visited", "visits")}
        (households,) = demo_db.execute("SELECT count(*) FROM households h JOIN areas a ON a.id = h.area_id "
                                        "WHERE a.code = ?", (VILLAGE_1,)).fetchone()
        assert legend["verified"] + legend["questionable"] + legend["not_visited"] == households
        expect(page.get_by_test_id("map-household")).to_have_count(households)  # one village: none grouped
        expect(page.get_by_test_id("map-cluster")).to_have_count(0)
        data = json.loads(page.locator("#map-data").text_content())
        located_visits = [f for f in data["features"] if f["properties"]["kind"] == "visit" and f["geometry"]]
        assert 0 < len(located_visits) == legend["visits"]  # the legend counts only the points drawn
        expect(page.get_by_test_id("map-visit")).to_have_count(len(located_visits))
        assert page.locator("[data-testid=map-visit][data-verdict=questionable]").count() > 0
        assert_names_cover_nothing(page)
        screenshot(page, "map", device)
    page = open_page("county", "phone", "/map/")
    data = json.loads(page.locator("#map-data").text_content())
    (without_gps,) = demo_db.execute("SELECT count(*) FROM visits WHERE month = ? AND latitude IS NULL",
                                     (data["month"],)).fetchone()
    assert without_gps > 0  # the demo has some
    expect(page.get_by_test_id("legend-no-gps")).to_have_attribute("data-count", str(without_gps))
    expect(page.get_by_test_id("legend-no-gps")).to_contain_text(f"无定位的走访 {without_gps} 次")
    english = open_page("county", "phone", "/map/?lang=en")
    expect(english.get_by_test_id("legend-no-gps")).to_contain_text(f"Visits without GPS: {without_gps} (not shown)")
    fits_phone(english)

    # a questionable household, focused: its popup is open and leads to its file
    (number,) = demo_db.execute(
        "SELECT h.number FROM households h JOIN visits v ON v.household_id = h.id WHERE v.verdict = 'questionable' "
        "AND v.reasons LIKE '%gps_far%' ORDER BY v.visit_date DESC, h.number LIMIT 1").fetchone()
    for device in DEVICES:
        page = open_page("county", device, f"/map/?focus={number}")
        popup = page.locator(".leaflet-popup")
        expect(popup).to_be_visible()
        expect(popup).to_contain_text(number)
        expect(popup).to_have_css("opacity", "1")  # the fade-in is over
        screenshot(page, "map-focus-popup", device, full_page=False)
    popup.get_by_test_id("map-open-file").click()
    expect(page.get_by_test_id("household-number")).to_have_text(number)


def test_a_supervisor_confirms_the_proposed_location_of_a_house(open_page, unlocated_household, screenshot,
                                                                 fits_phone):
    number = unlocated_household
    cadre = open_page("cadre001", "desktop", f"/households/{number}")
    expect(cadre.get_by_test_id("proposed-location")).to_contain_text("待督导确认")
    expect(cadre.get_by_test_id("confirm-location")).to_have_count(0)  # only supervisors and admins confirm
    english = open_page("town1", "desktop", f"/households/{number}?lang=en")
    expect(english.get_by_role("button", name="Confirm as the house's location")).to_be_visible()
    screenshot(english, "household-proposed-location-en", "desktop")

    page = open_page("town1", "phone", f"/households/{number}")
    expect(page.get_by_test_id("household-location")).to_have_text("未确认")
    proposed = page.get_by_test_id("proposed-location")
    latitude, longitude = (float(x) for x in re.match(r"\s*([\d.]+), ([\d.]+)", proposed.inner_text()).groups())
    button = page.get_by_test_id("confirm-location")
    expect(button).to_be_visible()
    fits_phone(page)
    screenshot(page, "household-proposed-location", "phone")
    button.click()
    expect(page.get_by_test_id("flash-ok")).to_have_text("已确认该户位置。")
    expect(page.get_by_test_id("household-location")).to_contain_text(f"{latitude:.6f}, {longitude:.6f}")
    expect(page.get_by_test_id("household-map-link")).to_be_visible()
    expect(page.get_by_test_id("proposed-location")).to_have_count(0)
    fits_phone(page)
    screenshot(page, "household-location-confirmed", "phone")


def test_a_supervisor_resolves_a_conflict(open_page, screenshot):
    page = open_page("county", "phone", "/review/conflicts")
    screenshot(page, "review-conflicts", "phone")
    count = page.get_by_test_id("conflict-count")
    before = int(re.search(r"\d+", count.inner_text()).group())
    assert before > 0
    conflict = page.get_by_test_id("conflict-row").first
    key = conflict.get_attribute("data-key")
    expect(conflict.get_by_test_id("conflict-entry")).to_have_count(2)  # side by side
    conflict.locator("input[name=choice]").first.check()
    conflict.locator("input[name=note]").fill("现场核实")
    conflict.get_by_test_id("resolve-submit").click()
    expect(page.locator("body")).to_contain_text("已解决")
    expect(page.locator(f"[data-testid=conflict-row][data-key='{key}']")).to_have_count(0)
    expect(count).to_contain_text(str(before - 1))
    screenshot(page, "review-conflict-resolved", "phone")
    screenshot(open_page("county", "desktop", "/review/conflicts"), "review-conflicts", "desktop")


@pytest.mark.parametrize("path, ready", [
    ("/review/", "[data-testid=review-tabs]"),
    ("/review/quality", "[data-testid=review-tabs]"),
    ("/review/visits", "[data-testid=review-tabs]"),
    ("/review/out-of-area", "[data-testid=review-tabs]"),
])
def test_the_review_lists_render(shoot, path, ready):
    name = "review-" + (path.strip("/").split("/")[-1] if path != "/review/" else "submissions")
    pages = shoot(name, path, user="county", ready=ready)
    for page in pages.values():
        expect(page.locator("main")).not_to_contain_text("出错了")


def test_publishing_a_broken_xlsform_shows_the_errors_in_place(open_page, screenshot, tmp_path):
    broken = tmp_path / "broken.xlsx"
    broken.write_bytes(broken_xlsform())
    for device in DEVICES:
        page = open_page("admin", device, "/admin/")
        page.get_by_test_id("xlsform-input").set_input_files(str(broken))
        page.get_by_test_id("publish-submit").click()
        errors = page.get_by_test_id("form-errors")
        expect(errors).to_be_visible()
        expect(errors).to_contain_text("nowhere")  # pyxform's message names the unknown ${nowhere}
        assert errors.get_by_test_id("error-row").count() >= 1
        expect(page.get_by_test_id("form-row")).to_have_count(5)  # the five bundled forms: nothing was published
        screenshot(page, "admin-form-error", device)


def within_first_screen(page, locator) -> None:
    """The element starts on the screen the page shows (no scrolling needed to see that it is there)."""
    box = locator.bounding_box()
    assert box is not None and 0 <= box["y"] < page.viewport_size["height"], \
        f"{box} is not on the first {page.viewport_size['height']} px screen"


@pytest.mark.parametrize("lang, message", [("zh", "XLSForm 有错误，未发布"), ("en", "The XLSForm has errors")])
def test_a_broken_xlsforms_errors_are_the_first_thing_a_phone_shows(open_page, screenshot, fits_phone, tmp_path,
                                                                   lang, message):
    broken = tmp_path / "broken.xlsx"
    broken.write_bytes(broken_xlsform())
    page = open_page("admin", "phone", f"/admin/?lang={lang}")
    page.get_by_test_id("xlsform-input").set_input_files(str(broken))
    page.get_by_test_id("publish-submit").click()
    errors = page.get_by_test_id("form-errors")
    expect(errors).to_contain_text(message)
    expect(errors.get_by_test_id("error-row").first).to_be_visible()
    within_first_screen(page, errors)
    within_first_screen(page, errors.get_by_test_id("error-row").first)
    fits_phone(page)
    screenshot(page, f"admin-form-error-first-{lang}", "phone", full_page=False)


def test_a_bad_rosters_errors_are_brought_onto_a_phones_screen(open_page, screenshot, tmp_path):
    bad = tmp_path / "roster-bad.csv"
    header = SAMPLE_ROSTER.read_text(encoding="utf-8").splitlines()[0]
    rows = [f"21050400100199{n:02d},210504001001,高峪一村,错号码{n},210504194707180870,户主,男,1947-07-18,非在校生,是,"
            f"健康,无劳动力,未脱贫,缺劳力,41.29,123.80,cadre001" for n in range(3)]
    bad.write_text("\n".join([header, *rows]) + "\n", encoding="utf-8")
    page = open_page("admin", "phone", "/admin/roster")
    page.locator("input[type=file]").set_input_files(str(bad))
    page.get_by_role("button", name="上传并导入").click()
    errors = page.locator("#roster-errors")
    expect(errors).to_be_visible(timeout=20_000)
    expect(errors).to_be_focused()
    within_first_screen(page, page.locator("#roster-status"))
    within_first_screen(page, errors.locator("tbody tr").first)
    screenshot(page, "roster-errors-first", "phone", full_page=False)


@pytest.mark.parametrize("path", ["/admin/users", "/admin/areas", "/admin/audit/"])
def test_the_admin_pages_render(shoot, path):
    pages = shoot("admin-" + path.strip("/").rsplit("/", 1)[-1], path, user="admin", ready="[data-testid=admin-tabs]")
    for page in pages.values():
        expect(page.locator("main")).not_to_contain_text("出错了")


@pytest.fixture(scope="module")
def other_village(demo_db) -> dict:
    """A household of village 2 with a visit that has a photo: cadre001 (villages 1 and 牛心二村) may not see it,
    nor may town2's supervisor."""
    number, instance_id, filename = demo_db.execute(
        "SELECT h.number, s.instance_id, a.filename FROM households h JOIN areas ar ON ar.id = h.area_id "
        "JOIN submissions s ON s.household_number = h.number JOIN forms f ON f.id = s.form_id "
        "JOIN submission_attachments a ON a.submission_id = s.id "
        "WHERE ar.code = ? AND f.xml_form_id = 'household_visit' AND a.thumb_sha256 IS NOT NULL "
        "ORDER BY h.number, s.instance_id LIMIT 1", (VILLAGE_2,)).fetchone()
    return {"number": number, "instance_id": instance_id, "filename": filename}


SCOPED = [
    "/households/{number}",
    "/households/{number}/submissions/household_visit/{instance_id}",
    "/api/v1/households/{number}",
    "/api/v1/submissions/household_visit/{instance_id}/attachments/{filename}",
    "/api/v1/submissions/household_visit/{instance_id}/attachments/{filename}/thumb",
    "/coverage/households?area=" + VILLAGE_2,
    "/coverage/not-visited?area=" + VILLAGE_2,
    "/map/?area=" + VILLAGE_2,
]
REVIEW_SCOPED = ["/review/submissions/household_visit/{instance_id}"]


@pytest.mark.parametrize("user, allowed, paths", [
    ("cadre001", "cadre002", SCOPED),
    ("town2", "town1", SCOPED + REVIEW_SCOPED),
])
def test_another_areas_household_is_404_on_every_page(new_context, login_states, other_village, user, allowed,
                                                     paths, screenshot):
    outsider = new_context("phone", login_states(user))
    insider = new_context("phone", login_states(allowed))
    for template in paths:
        path = template.format(**other_village)
        assert insider.request.get(path).status == 200, f"{allowed} should see {path}"
        answer = outsider.request.get(path)
        assert answer.status == 404, f"{user} got {answer.status} for {path}"
    page = outsider.new_page()
    response = page.goto(f"/households/{other_village['number']}")
    assert response.status == 404
    expect(page.locator("[role=alert]")).to_contain_text(other_village["number"])
    screenshot(page, f"household-404-{user}", "phone")
    # where the household could show up in a list, it does not
    page.goto(f"/households/?q={other_village['number']}")
    expect(page.locator(f"[data-testid=household-row][data-number='{other_village['number']}']")).to_have_count(0)
    page.goto(f"/map/?focus={other_village['number']}")
    features = json.loads(page.locator("#map-data").text_content())["features"]
    assert all(f["properties"].get("number") != other_village["number"] for f in features)
    assert other_village["number"] not in page.locator("#map-data").text_content()
