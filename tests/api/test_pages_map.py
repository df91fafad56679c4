"""The map page and GET /api/v1/map: households coloured by the month's visit state, visit points, filters, scope."""
import json
import re

import pytest
from sqlalchemy import update

from server.db import session_scope
from support import login, Collect, make_jpeg, visit_xml
from sync.models import Household

VERIFIED = "2105040010010001"      # 郝福, village 1, cadre001; its known location is 41.296222, 123.801020
FAR = "2105040010010007"           # village 1, cadre007: visited 1.5 km away → questionable
UNLOCATED = "2105040010010013"     # village 1: its location removed for the test, visited (so questionable)
OCTOBER = "2105040010010019"       # village 1: visited in October only
NO_GPS = "2105040010010025"        # village 1: not visited in the fixture
MONTH = "2026-11"
GREEN, ORANGE, RED = "#2e7d32", "#ef6c00", "#c62828"


@pytest.fixture
def month(client, sample_district, sessions, work):
    """Village 1 in November 2026: one verified visit, one far from the house, one to a house without a
    location (questionable too: nothing to compare with), an October visit that does not count, and the rest
    of the village not visited."""
    with session_scope(sessions) as session:
        session.execute(update(Household).where(Household.number == UNLOCATED).values(latitude=None, longitude=None))
    device = Collect(client, sample_district["cadre1"])
    photo = {"family.jpg": make_jpeg(taken="2026:11:20 10:01:00")}
    for xml in (visit_xml(VERIFIED, instance_id="uuid:verified"),
                visit_xml(FAR, instance_id="uuid:far", gps="41.31 123.80 100 5"),
                visit_xml(UNLOCATED, instance_id="uuid:unlocated"),
                visit_xml(OCTOBER, instance_id="uuid:october", end="2026-10-20T10:00:00+08:00")):
        assert device.submit(xml, photo).status_code == 201
    work()
    return sample_district


def geojson(client, headers, **args):
    response = client.get("/api/v1/map", query_string={"month": MONTH, **args}, headers=headers)
    assert response.status_code == 200, response.get_data(as_text=True)
    return response.get_json()


def by_kind(data, kind):
    return {f["properties"].get("number") or f["id"]: f for f in data["features"] if f["properties"]["kind"] == kind}


def test_households_are_coloured_by_the_months_visit_state(client, month):
    data = geojson(client, month["cadre1"])
    assert data["type"] == "FeatureCollection" and data["month"] == MONTH
    households = by_kind(data, "household")
    assert len(households) == 19  # cadre001 sees village 1 only
    assert households[VERIFIED]["properties"]["state"] == "verified"
    assert households[VERIFIED]["properties"]["color"] == GREEN
    assert households[VERIFIED]["geometry"] == {"type": "Point", "coordinates": [123.80102, 41.296222]}
    assert households[FAR]["properties"]["state"] == "questionable"
    assert households[FAR]["properties"]["color"] == ORANGE
    not_visited = [f for f in households.values() if f["properties"]["state"] == "not_visited"]
    assert len(not_visited) == 16 and {f["properties"]["color"] for f in not_visited} == {RED}
    assert households[VERIFIED]["properties"]["url"] == f"/households/{VERIFIED}"
    assert households[UNLOCATED]["properties"]["state"] == "questionable"
    assert households[OCTOBER]["properties"]["state"] == "not_visited"
    assert data["summary"] == {"households": 19, "verified": 1, "questionable": 2, "not_visited": 16,
                               "no_location": 1, "listed": 19, "shown": 18, "visits": 3, "visits_without_gps": 0}


def test_a_household_without_location_is_counted_but_not_drawn(client, month):
    unlocated = by_kind(geojson(client, month["cadre1"]), "household")[UNLOCATED]
    assert unlocated["geometry"] is None
    assert unlocated["properties"]["visits"] == 1


def test_visit_points_and_a_line_for_the_questionable_visit(client, month):
    data = geojson(client, month["cadre1"])
    visits = {f["properties"]["instance_id"]: f for f in data["features"] if f["properties"]["kind"] == "visit"}
    assert set(visits) == {"uuid:verified", "uuid:far", "uuid:unlocated"}  # October's visit is another month
    far = visits["uuid:far"]["properties"]
    assert far["verdict"] == "questionable" and far["color"] == ORANGE and far["reasons"] == ["gps_far"]
    assert 1000 < far["distance_m"] < 2000
    assert far["url"] == f"/households/{FAR}/submissions/household_visit/uuid:far"
    assert visits["uuid:verified"]["properties"]["color"] == GREEN
    assert visits["uuid:verified"]["properties"]["distance_m"] == 0
    links = [f for f in data["features"] if f["properties"]["kind"] == "link"]
    assert [(f["properties"]["household"], f["geometry"]["coordinates"]) for f in links] == \
           [(FAR, [[123.8, 41.31], visits_home(data, FAR)])]


def visits_home(data, number):
    return by_kind(data, "household")[number]["geometry"]["coordinates"]


def test_filters_by_state_cadre_and_village(client, month):
    verified = geojson(client, month["cadre1"], state="verified")
    assert sorted(by_kind(verified, "household")) == [VERIFIED]
    assert [f["properties"]["instance_id"] for f in verified["features"] if f["properties"]["kind"] == "visit"] == \
           ["uuid:verified"]
    assert verified["summary"]["not_visited"] == 0
    cadre4 = geojson(client, month["town1"], cadre="cadre004")
    assert len(by_kind(cadre4, "household")) == 6
    assert {f["properties"]["cadre"] for f in by_kind(cadre4, "household").values()} == {"cadre004"}
    village2 = geojson(client, month["town1"], area="210504001002")
    assert len(by_kind(village2, "household")) == 19
    assert all(n.startswith("210504001002") for n in by_kind(village2, "household"))
    assert len(by_kind(geojson(client, month["town1"]), "household")) == 38


def test_another_areas_households_and_filters_are_out_of_reach(client, month):
    assert VERIFIED not in by_kind(geojson(client, month["cadre2"]), "household")
    response = client.get("/api/v1/map", query_string={"area": "210504001001"}, headers=month["cadre2"])
    assert response.status_code == 404 and response.get_json()["code"] == "area.not_found"
    assert client.get("/api/v1/map", query_string={"state": "lost"}, headers=month["cadre1"]).status_code == 400
    assert client.get("/api/v1/map", query_string={"month": "2026-13"}, headers=month["cadre1"]).status_code == 400
    assert client.get("/api/v1/map").status_code == 401


def test_the_map_is_described_in_openapi(client):
    paths = client.get("/api/v1/openapi.json").get_json()["paths"]
    assert {p["name"] for p in paths["/map"]["get"]["parameters"]} == {"month", "area", "cadre", "state"}


def embedded(html, element_id):
    return json.loads(re.search(rf'<script type="application/json" id="{element_id}">(.*?)</script>', html, re.S)
                      .group(1))


def test_the_map_page_embeds_the_same_data_with_a_legend(client, month):
    login(client, "town1")
    response = client.get(f"/map/?month={MONTH}&area=210504001001")
    assert response.status_code == 200
    html = response.get_data(as_text=True)
    assert 'data-testid="map"' in html and 'data-testid="map-legend"' in html
    assert 'data-tile-url=""' in html  # no base layer unless one is configured
    assert embedded(html, "map-data") == geojson(client, month["town1"], area="210504001001")
    assert re.search(r'data-testid="legend-verified">1<', html)
    assert re.search(r'data-testid="legend-questionable">2<', html)
    assert re.search(r'data-testid="legend-not_visited">16<', html)
    assert re.search(r'data-testid="legend-no_location">1<', html)
    assert f'href="/households/{UNLOCATED}"' in html  # the households without a location are listed
    assert embedded(html, "map-labels")["states"]["verified"] == "已走访（证据核实）"
    assert "/static/vendor/leaflet/leaflet.js" in html and "/static/map.js" in html


def legend_count(html, testid):
    return int(re.search(rf'data-testid="{testid}"[^>]*>(\d+)<', html).group(1))


def test_the_legend_counts_the_visit_points_drawn_and_the_visits_without_gps_apart(client, month, work):
    no_gps = visit_xml(NO_GPS, instance_id="uuid:no-gps", gps="")
    assert Collect(client, month["cadre1"]).submit(no_gps, {"family.jpg": make_jpeg()}).status_code == 201
    work()
    login(client, "town1")
    html = client.get(f"/map/?month={MONTH}&area=210504001001").get_data(as_text=True)
    drawn = [f for f in embedded(html, "map-data")["features"] if f["properties"]["kind"] == "visit"]
    assert len(drawn) == 3  # the visit without GPS has no point
    assert legend_count(html, "legend-visits") == 3
    assert re.search(r'data-testid="legend-no-gps" data-count="1"', html)
    assert "无定位的走访 1 次（未显示）" in html
    english = client.get(f"/map/?month={MONTH}&area=210504001001&lang=en").get_data(as_text=True)
    assert legend_count(english, "legend-visits") == 3
    assert "Visits without GPS: 1 (not shown)" in english


def test_the_map_page_in_english_with_a_configured_tile_server(app, client, month):
    app.config["ZOUFANG_TILE_URL"] = "https://tiles.example/{z}/{x}/{y}.png"
    login(client, "cadre001")
    html = client.get(f"/map/?month={MONTH}&lang=en").get_data(as_text=True)
    assert 'data-tile-url="https://tiles.example/{z}/{x}/{y}.png"' in html
    assert "Visited (verified evidence)" in html and "Not visited" in html and "Questionable visit" in html
    assert embedded(html, "map-labels")["open_file"] == "Open the household file"
    assert "地图" not in re.sub(r"<script.*?</script>", "", html, flags=re.S)


def test_map_page_scoping_and_login(client, month):
    assert client.get("/map/").status_code == 302  # to /login
    login(client, "cadre002")
    assert client.get("/map/?area=210504001001").status_code == 404
    assert client.get("/map/?month=11-2026").status_code == 400
    html = client.get(f"/map/?month={MONTH}").get_data(as_text=True)
    assert VERIFIED not in html and "210504001002" in html


def test_leaflet_is_served_by_the_app(client):
    for path in ("/static/vendor/leaflet/leaflet.js", "/static/vendor/leaflet/leaflet.css",
                 "/static/vendor/leaflet/images/marker-icon.png", "/static/map.js", "/static/households.css"):
        response = client.get(path)
        assert response.status_code == 200, path
        response.close()


@pytest.mark.parametrize("a, b", [((41.314680, 123.829184), (41.296222, 123.80102)), ((18.2, 109.5), (18.3, 109.4)),
                                  ((53.0, 122.0), (53.0, 122.0001)), ((41.3, 123.8), (41.3, 123.8))])
def test_map_distances_agree_with_the_evidence_check(a, b):
    from server.readmodels import metres
    from sync.evidence import metres as geodesic
    assert metres(a, b) == pytest.approx(geodesic(a, b), abs=0.05)
