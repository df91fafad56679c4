"""Visit coverage over the API and the pages: visits come in over OpenRosa as Collect sends them, the worker judges
their evidence, and the coverage numbers, lists and pages follow.

Village 210504001001 (高峪一村, 19 households: cadre001 7, cadre004 6, cadre007 6) in November 2026:
verified — 郝福 (cadre001's, by cadre001) and 孔志明 (cadre004's, by town1); questionable — 阎晓玉 (cadre007's, by
cadre001, 1.5 km from the house) and 龙立长 (cadre001's, by cadre001, neither GPS nor photo: no evidence);
黄亮 (cadre001's) was visited in October only. Everything else in the district is not visited.
"""
import re

import pytest
from sqlalchemy import event, func, select, update

from server.db import session_scope
from support import login, Collect, make_jpeg, visit_xml
from sync.coverage import clear_cache, mark_uncounted
from sync.jobs import refill_coverage, run_pending
from sync.models import Area
from sync.records import CoverageMonth

HAO_FU, LONG, HUANG = "2105040010010001", "2105040010010019", "2105040010010037"
YAN, KONG = "2105040010010007", "2105040010010013"
COUNTY, TOWN, VILLAGE, VILLAGE_2, OTHER_TOWN = "210504", "210504001", "210504001001", "210504001002", "210504002"
MONTH = "2026-11"


@pytest.fixture
def november(client, sample_district, work):
    cadre = Collect(client, sample_district["cadre1"])
    town = Collect(client, sample_district["town1"])
    photo = {"family.jpg": make_jpeg(taken="2026:11:20 10:01:00")}
    october = {"family.jpg": make_jpeg(taken="2026:10:20 10:01:00")}
    at_the_door = {HAO_FU: "41.296222 123.80102 100 5", HUANG: "41.2977 123.803 100 5", KONG: "41.297 123.7976 100 5"}
    for device, xml, files in (
            (cadre, visit_xml(HAO_FU, instance_id="uuid:hao", gps=at_the_door[HAO_FU]), photo),
            (cadre, visit_xml(YAN, instance_id="uuid:yan", gps="41.31 123.80 100 5"), photo),   # 1.5 km away
            (cadre, visit_xml(LONG, instance_id="uuid:long", gps=""), {}),                     # no evidence
            (cadre, visit_xml(HUANG, instance_id="uuid:huang", end="2026-10-20T10:00:00+08:00",
                              gps=at_the_door[HUANG]), october),
            (town, visit_xml(KONG, instance_id="uuid:kong", username="town1", gps=at_the_door[KONG]), photo)):
        response = device.submit(xml, files)
        assert response.status_code == 201, response.get_data(as_text=True)
    work()
    return sample_district


def get(client, path, headers=None, expect=200, **query):
    response = client.get(path, query_string=query, headers=headers or {})
    assert response.status_code == expect, response.get_data(as_text=True)
    return response.get_json()


def numbers(row):
    return row["assigned"], row["verified"], row["questionable"], row["not_visited"]


# ---- GET /api/v1/coverage ---------------------------------------------------------------------------------------

def test_a_villages_coverage_is_by_cadre_counting_their_own_visits(client, november):
    data = get(client, "/api/v1/coverage", november["cadre1"], month=MONTH, area=VILLAGE)
    assert data["month"] == MONTH and data["by"] == "cadre"
    assert data["area"] == {"code": VILLAGE, "name": "高峪一村", "level": "village"}
    assert numbers(data["total"]) == (19, 2, 2, 15)
    assert data["total"]["verified_pct"] == 10.5 and data["total"]["not_visited_pct"] == 78.9
    rows = {r["key"]: r for r in data["rows"]}
    assert list(rows) == ["cadre001", "cadre004", "cadre007"]
    assert numbers(rows["cadre001"]) == (7, 1, 1, 5)      # 郝福 verified, 龙立长 without evidence
    assert numbers(rows["cadre004"]) == (6, 0, 0, 6)      # 孔志明 was visited, but by town1
    assert numbers(rows["cadre007"]) == (6, 0, 0, 6)      # 阎晓玉 was visited, but by cadre001
    assert rows["cadre001"]["name"] == "cadre001" and rows["cadre001"]["kind"] == "cadre"
    # only October had visits among Aug–Oct: 黄亮, 1 of 19 in the village, 1 of cadre001's 7
    assert data["compared_months"] == ["2026-10"]
    assert data["total"]["previous_pct"] == 5.3 and data["total"]["change"] == 5.2
    assert rows["cadre001"]["previous_pct"] == 14.3
    assert [p["month"] for p in data["trend"]] == ["2026-06", "2026-07", "2026-08", "2026-09", "2026-10", "2026-11"]
    assert [(p["verified"], p["questionable"]) for p in data["trend"][-2:]] == [(1, 0), (2, 2)]


def test_a_town_supervisor_sees_the_town_by_village_by_default(client, november):
    data = get(client, "/api/v1/coverage", november["town1"], month=MONTH)
    assert data["area"]["code"] == TOWN and data["by"] == "area"
    assert [(r["key"], r["kind"]) for r in data["rows"]] == [(VILLAGE, "area"), (VILLAGE_2, "area")]
    assert numbers(data["rows"][0]) == (19, 2, 2, 15)
    assert numbers(data["rows"][1]) == (19, 0, 0, 19)
    assert [a["code"] for a in data["breadcrumb"]] == [TOWN]
    by_cadre = get(client, "/api/v1/coverage", november["town1"], month=MONTH, by="cadre")
    assert by_cadre["by"] == "cadre" and len(by_cadre["rows"]) == 6


def test_an_admin_sees_the_county_by_town(client, november, admin):
    data = get(client, "/api/v1/coverage", admin, month=MONTH)
    assert data["area"]["code"] == COUNTY
    assert [r["key"] for r in data["rows"]] == [TOWN, OTHER_TOWN, "210504003"]
    assert numbers(data["total"]) == (113, 2, 2, 109)


@pytest.mark.parametrize("user, area", [("cadre2", VILLAGE), ("cadre2", TOWN), ("town1", OTHER_TOWN),
                                        ("cadre1", COUNTY), ("town1", "999999")])
def test_an_area_outside_the_callers_areas_is_not_found(client, november, user, area):
    problem = get(client, "/api/v1/coverage", november[user], expect=404, month=MONTH, area=area)
    assert problem["code"] == "area.not_found"
    get(client, "/api/v1/coverage/not-visited", november[user], expect=404, month=MONTH, area=area)
    get(client, "/api/v1/coverage/households", november[user], expect=404, month=MONTH, area=area)


def test_the_month_defaults_to_this_month(client, november):
    from sync.coverage import this_month
    assert get(client, "/api/v1/coverage", november["cadre1"])["month"] == this_month()


@pytest.mark.parametrize("query", [{"month": "2026-13"}, {"month": "11/2026"}, {"by": "village"},
                                   {"area": ""}])
def test_bad_arguments_are_a_problem(client, november, query):
    problem = get(client, "/api/v1/coverage", november["town1"], expect=400, **query)
    assert problem["code"] == "request.invalid"


@pytest.mark.parametrize("path", ["/api/v1/coverage", "/api/v1/coverage/not-visited", "/api/v1/coverage/households"])
def test_the_api_needs_a_user(client, sample_district, path):
    assert client.get(path).status_code == 401


# ---- the households behind the numbers ------------------------------------------------------------------------

def test_not_visited_households_come_grouped_by_cadre(client, november):
    data = get(client, "/api/v1/coverage/not-visited", november["town1"], month=MONTH, area=VILLAGE)
    assert data["total"] == 15 and data["month"] == MONTH
    groups = {g["cadre"]: g["households"] for g in data["cadres"]}
    assert [len(groups[c]) for c in ("cadre001", "cadre004", "cadre007")] == [5, 5, 5]
    huang = next(h for h in groups["cadre001"] if h["number"] == HUANG)
    assert huang == {"number": HUANG, "head_name": "黄亮", "village": {"code": VILLAGE, "name": "高峪一村"},
                     "last_visit": "2026-10-20"}
    mine = get(client, "/api/v1/coverage/not-visited", november["town1"], month=MONTH, area=VILLAGE,
               cadre="cadre004")
    assert mine["total"] == 6 and KONG in [h["number"] for h in mine["cadres"][0]["households"]]


def test_the_household_lists_match_the_numbers(client, november):
    data = get(client, "/api/v1/coverage/households", november["cadre1"], month=MONTH, area=VILLAGE,
               state="questionable")
    assert data["total"] == 2
    assert sorted((h["number"], h["state"]) for h in data["items"]) == [(YAN, "questionable"), (LONG, "questionable")]
    verified = get(client, "/api/v1/coverage/households", november["cadre1"], month=MONTH, area=VILLAGE,
                   state="verified")
    assert sorted(h["number"] for h in verified["items"]) == [HAO_FU, KONG]
    paged = get(client, "/api/v1/coverage/households", november["cadre1"], month=MONTH, area=VILLAGE, limit=5,
                offset=5)
    assert paged["total"] == 19 and len(paged["items"]) == 5 and (paged["limit"], paged["offset"]) == (5, 5)
    get(client, "/api/v1/coverage/households", november["cadre1"], expect=400, state="visited")


def test_the_openapi_document_lists_the_coverage_paths(client):
    paths = client.get("/api/v1/openapi.json").get_json()["paths"]
    assert {"/coverage", "/coverage/not-visited", "/coverage/households"} <= set(paths)
    assert {p["name"] for p in paths["/coverage"]["get"]["parameters"]} == {"month", "area", "by"}


# ---- pages ----------------------------------------------------------------------------------------------------

def test_the_coverage_page_needs_a_login(client, sample_district):
    response = client.get("/coverage/")
    assert response.status_code == 302 and "/login" in response.headers["Location"]


def test_the_coverage_page_shows_the_towns_villages_with_links_and_a_chart(client, november):
    login(client, "town1")
    html = client.get(f"/coverage/?month={MONTH}").get_data(as_text=True)
    assert 'data-testid="coverage-table"' in html and "走访覆盖" in html
    rows = re.findall(r'<tr data-testid="coverage-row" data-kind="area" data-key="(\d+)" data-assigned="(\d+)"\s+'
                      r'data-verified="(\d+)" data-questionable="(\d+)" data-not-visited="(\d+)"', html)
    assert rows == [(VILLAGE, "19", "2", "2", "15"), (VILLAGE_2, "19", "0", "0", "19")]
    assert f'href="/coverage/?month={MONTH}&amp;area={VILLAGE}" data-testid="drill-down"' in html
    assert f'/coverage/households?month={MONTH}&amp;area={VILLAGE}&amp;state=verified' in html
    assert f'/coverage/households?month={MONTH}&amp;area={VILLAGE}&amp;state=questionable' in html
    assert f'href="/coverage/not-visited?month={MONTH}&amp;area={TOWN}" data-testid="not-visited-link"' in html
    assert html.count('data-testid="trend-bar"') == 6 and 'data-testid="trend-chart"' in html
    assert 'data-month="2026-11" data-verified-pct="5.3"' in html
    assert 'data-testid="month-prev"' in html and "month=2026-10" in html
    assert 'href="/static/coverage.css?v=' in html
    assert "<script" not in html.split("<main>")[1]     # the chart is drawn without a script


def test_the_chart_says_no_data_before_the_first_visit_and_labels_bars_in_percent(client, november):
    login(client, "town1")
    html = client.get(f"/coverage/?month={MONTH}").get_data(as_text=True)
    chart = html[html.index('data-testid="trend-chart"'):html.index("</svg>")]
    # June–September have no visit at all in the town: no bar of "0", 无数据 under each
    assert re.findall(r'data-month="([\d-]+)" data-no-data="1"', chart) == ["2026-06", "2026-07", "2026-08", "2026-09"]
    assert chart.count("无数据") == 2 * 4        # the text and its title
    assert chart.count("<rect") == 2 * 2         # October and November: verified and questionable
    assert re.findall(r'data-testid="trend-value">([^<]*)<', chart) == ["3%", "5%"]   # 1 and 2 of 38 verified


def test_an_area_with_nobody_to_visit_shows_dashes_not_a_green_zero(client, november, sessions):
    with session_scope(sessions) as session:
        town = session.scalar(select(Area).where(Area.code == TOWN))
        empty = Area(code="210504001009", name="空村", level="village", parent=town, path="")
        session.add(empty)
        session.flush()
        empty.path = f"{town.path}{empty.id}/"
    login(client, "town1")
    town_page = client.get(f"/coverage/?month={MONTH}").get_data(as_text=True)
    row = re.search(r'<tr data-testid="coverage-row" data-kind="area" data-key="210504001009".*?</tr>', town_page,
                    re.S).group(0)
    assert row.count('class="cov-none"') == 3 and "cov-pct" not in row
    html = client.get(f"/coverage/?month={MONTH}&area=210504001009").get_data(as_text=True)
    assert re.search(r'class="cov-big-pct cov-none" data-testid="total-pct">—<', html)
    assert 'data-testid="trend-no-data">无数据<' in html and "<rect" not in html


def test_drilling_down_to_a_village_shows_its_cadres(client, november):
    login(client, "town1")
    html = client.get(f"/coverage/?month={MONTH}&area={VILLAGE}").get_data(as_text=True)
    assert re.findall(r'data-kind="cadre" data-key="([^"]+)"', html) == ["cadre001", "cadre004", "cadre007"]
    assert f'/coverage/households?month={MONTH}&amp;area={VILLAGE}&amp;cadre=cadre001&amp;state=not_visited' in html
    assert 'data-testid="breadcrumb-area" data-code="210504001"' in html
    assert 'data-testid="by-cadre"' not in html            # a village is always by cadre


def test_the_not_visited_page_lists_households_by_cadre(client, app, november):
    login(client, "town1")
    html = client.get(f"/coverage/not-visited?month={MONTH}&area={VILLAGE}").get_data(as_text=True)
    assert re.findall(r'data-testid="cadre-group" data-cadre="([^"]*)"', html) == ["cadre001", "cadre004", "cadre007"]
    listed = re.findall(r'data-testid="household" data-number="(\d+)"', html)
    assert len(listed) == 15 and HUANG in listed and HAO_FU not in listed
    assert "上次走访 2026-10-20" in html and "从未走访" in html
    if "households.file_page" in app.view_functions:
        assert f'href="/households/{HUANG}" data-testid="household-link"' in html
    else:
        assert 'data-testid="household-link"' not in html


def test_a_number_opens_the_households_behind_it(client, november):
    login(client, "cadre001")
    html = client.get(f"/coverage/households?month={MONTH}&area={VILLAGE}&state=verified").get_data(as_text=True)
    assert sorted(re.findall(r'data-testid="household" data-number="(\d+)" data-state="verified"', html)) == \
        [HAO_FU, KONG]
    cadre = client.get(f"/coverage/households?month={MONTH}&area={VILLAGE}&cadre=cadre004").get_data(as_text=True)
    assert len(re.findall(r'data-testid="household" ', cadre)) == 6
    assert "只计该干部本人提交的走访" in cadre


def test_the_pages_speak_english_on_request(client, november):
    login(client, "town1")
    html = client.get(f"/coverage/?month={MONTH}&lang=en").get_data(as_text=True)
    assert "Visit coverage" in html and "Not visited" in html and "Previous 3 months" in html
    assert "走访覆盖" not in html.split("<main>")[1]
    listing = client.get(f"/coverage/not-visited?month={MONTH}&area={VILLAGE}&lang=en").get_data(as_text=True)
    assert "Households not visited" in listing and "last visited 2026-10-20" in listing


@pytest.mark.parametrize("path", ["/coverage/", "/coverage/not-visited", "/coverage/households"])
def test_every_page_answers_404_for_another_area(client, november, path):
    login(client, "cadre002")
    assert client.get(f"{path}?month={MONTH}&area={VILLAGE}").status_code == 404


def test_a_bad_month_on_a_page_is_a_400(client, november):
    login(client, "town1")
    assert client.get("/coverage/?month=2026-13").status_code == 400
    assert client.get("/coverage/households?state=visited").status_code == 400


# ---- the cache of per-area, per-month counts --------------------------------------------------------------------

COVERAGE_VIEWS = [("admin", {}), ("admin", {"by": "cadre"}), ("town1", {}), ("town1", {"area": VILLAGE}),
                  ("cadre1", {"area": VILLAGE})]


def every_view(client, district, admin):
    """The coverage of November, October and September as each kind of user sees it."""
    headers = {"admin": admin, "town1": district["town1"], "cadre1": district["cadre1"]}
    return [get(client, "/api/v1/coverage", headers[user], month=month, **query)
            for user, query in COVERAGE_VIEWS for month in (MONTH, "2026-10", "2026-09")]


def cached_months(sessions) -> int:
    with session_scope(sessions) as session:
        return session.scalar(select(func.count()).select_from(CoverageMonth))


def clear(sessions) -> None:
    with session_scope(sessions) as session:
        clear_cache(session)


def village_month(client, headers, month):
    data = get(client, "/api/v1/coverage", headers, month=month, area=TOWN)
    return numbers(next(r for r in data["rows"] if r["key"] == VILLAGE))


def test_the_numbers_are_identical_with_and_without_the_cache(client, november, admin, sessions):
    clear(sessions)
    cold = every_view(client, november, admin)
    assert cached_months(sessions) == 0                    # requests count, never fill
    with session_scope(sessions) as session:
        mark_uncounted(session)                            # as a worker does when it starts
    refill_coverage(sessions)
    assert cached_months(sessions) > 0
    assert every_view(client, november, admin) == cold     # warm
    clear(sessions)
    assert every_view(client, november, admin) == cold


def test_a_visit_reconciled_into_last_month_shows_on_the_next_request(client, november, sessions, work):
    town = november["town1"]
    assert village_month(client, town, "2026-10") == (19, 1, 0, 18)                 # 黄亮 in October: cached now
    before = get(client, "/api/v1/coverage", town, month=MONTH, area=VILLAGE)
    assert cached_months(sessions) > 0
    late = visit_xml(HAO_FU, instance_id="uuid:hao-october", end="2026-10-21T10:00:00+08:00",
                     gps="41.296222 123.80102 100 5")
    assert Collect(client, november["cadre1"]).submit(
        late, {"family.jpg": make_jpeg(taken="2026:10:21 10:01:00")}).status_code == 201
    work()
    assert village_month(client, town, "2026-10") == (19, 2, 0, 17)
    after = get(client, "/api/v1/coverage", town, month=MONTH, area=VILLAGE)
    assert [p["verified"] for p in after["trend"]][-2] == [p["verified"] for p in before["trend"]][-2] + 1
    assert after["total"]["previous_pct"] == 10.5 and before["total"]["previous_pct"] == 5.3


def test_a_visit_reconciled_into_this_month_shows_on_the_next_request(client, november, work):
    town = november["town1"]
    assert village_month(client, town, MONTH) == (19, 2, 2, 15)
    assert Collect(client, november["cadre1"]).submit(
        visit_xml("2105040010010025", instance_id="uuid:late", gps="")).status_code == 201
    work()
    assert village_month(client, town, MONTH) == (19, 2, 3, 14)


def test_an_edit_moving_a_visit_to_another_month_moves_it_in_the_coverage(client, november, work):
    town = november["town1"]
    assert (village_month(client, town, "2026-10"), village_month(client, town, "2026-09")) == \
        ((19, 1, 0, 18), (19, 0, 0, 19))
    edit = visit_xml(HUANG, instance_id="uuid:huang-2", deprecated_id="uuid:huang",
                     end="2026-09-20T10:00:00+08:00", gps="")
    assert Collect(client, november["cadre1"]).submit(edit).status_code == 201
    work()
    assert (village_month(client, town, "2026-10"), village_month(client, town, "2026-09")) == \
        ((19, 0, 0, 19), (19, 0, 1, 18))


@pytest.fixture
def writes(app):
    """The INSERT, UPDATE and DELETE statements sent to the database from now on."""
    seen = []

    def record(_conn, _cursor, statement, _parameters, _context, _executemany):
        if statement.lstrip().split(None, 1)[0].upper() in ("INSERT", "UPDATE", "DELETE"):
            seen.append(statement)

    engine = app.extensions["zoufang"].engine
    event.listen(engine, "before_cursor_execute", record)
    yield seen
    event.remove(engine, "before_cursor_execute", record)


def test_coverage_requests_write_nothing_and_the_worker_refills_the_months_they_counted_live(
        client, november, app, sessions, writes):
    town = november["town1"]
    login(client, "town1")
    assert village_month(client, town, MONTH) == (19, 2, 2, 15)
    assert Collect(client, november["cadre1"]).submit(
        visit_xml("2105040010010025", instance_id="uuid:late", gps="")).status_code == 201
    rt = app.extensions["zoufang"]
    assert run_pending(rt.sessions, rt.queue)              # reconciled; the month is stale, not refilled yet
    writes.clear()
    assert village_month(client, town, MONTH) == (19, 2, 3, 14)
    assert client.get("/coverage/", query_string={"month": MONTH, "area": TOWN}).status_code == 200
    assert writes == []
    assert refill_coverage(sessions) > 0
    with session_scope(sessions) as session:
        cached = session.execute(select(CoverageMonth.visited, CoverageMonth.verified).join(
            Area, Area.id == CoverageMonth.area_id).where(Area.code == VILLAGE, CoverageMonth.month == MONTH)).one()
    assert tuple(cached) == (5, 2)
    assert refill_coverage(sessions) == 0
    assert village_month(client, town, MONTH) == (19, 2, 3, 14)


def test_a_rebuild_leaves_a_correct_cache(client, november, admin, sessions, runner):
    before = every_view(client, november, admin)
    with session_scope(sessions) as session:   # whatever the cache held, a rebuild derives it again
        session.execute(update(CoverageMonth).values(visited=5, verified=5))
    assert every_view(client, november, admin) != before
    result = runner.invoke(args=["reconcile", "rebuild"])
    assert result.exit_code == 0, result.output
    assert every_view(client, november, admin) == before
    clear(sessions)
    assert every_view(client, november, admin) == before
