"""GET /api/v1/households answers from the same read model as the households page (server/readmodels.py): the
same filters (area, status, flag, cadre, text, location, the month's visit state), counted and paged."""
from __future__ import annotations

from support import Collect, visit_xml

HH = "2105040010010001"        # 郝福, village 1
VILLAGE_1, VILLAGE_2 = "210504001001", "210504001002"


def listing(client, headers, query: str = "") -> dict:
    response = client.get(f"/api/v1/households?limit=1000&{query}", headers=headers)
    assert response.status_code == 200, response.get_data(as_text=True)
    return response.get_json()


def test_the_month_state_is_the_pages(client, sample_district, work):
    assert Collect(client, sample_district["cadre1"]).submit(
        visit_xml(HH, end="2026-11-20T10:00:00+08:00")).status_code == 201
    work()
    town = sample_district["town1"]
    november = listing(client, town, "month=2026-11")
    states = {h["number"]: h["month_state"] for h in november["items"]}
    assert states[HH] in ("verified", "questionable")
    assert set(states.values()) - {states[HH]} == {"not_visited"}
    visited = listing(client, town, f"month=2026-11&state={states[HH]}")
    assert [h["number"] for h in visited["items"]] == [HH] and visited["total"] == 1
    not_visited = listing(client, town, "month=2026-11&state=not_visited")
    assert not_visited["total"] == november["total"] - 1
    assert listing(client, town, "month=2026-10&state=not_visited")["total"] == november["total"]
    assert all(h["month_state"] is None for h in listing(client, town)["items"])


def test_text_and_location_filters(client, sample_district):
    town = sample_district["town1"]
    by_number = listing(client, town, f"q={HH[:-1]}")
    assert HH in {h["number"] for h in by_number["items"]}
    assert all(h["number"].startswith(HH[:-1]) for h in by_number["items"])
    head = next(h["head"] for h in by_number["items"] if h["number"] == HH)
    assert HH in {h["number"] for h in listing(client, town, f"q={head[1:]}")["items"]}
    assert listing(client, town, "q=%25")["total"] == 0  # a LIKE wildcard is text
    everything = listing(client, town)["total"]
    assert listing(client, town, "location=missing")["total"] < everything


def test_bad_filters_are_400_and_another_areas_code_is_404(client, sample_district):
    cadre = sample_district["cadre1"]
    assert client.get("/api/v1/households?state=verified", headers=cadre).status_code == 400  # needs month
    assert client.get("/api/v1/households?month=2026-13", headers=cadre).status_code == 400
    assert client.get("/api/v1/households?location=anywhere", headers=cadre).status_code == 400
    assert listing(client, cadre, f"area={VILLAGE_1}")["total"] > 0
    # a village outside the caller's areas answers as an unknown one does: it is not there for them
    outside = client.get(f"/api/v1/households?area={VILLAGE_2}", headers=cadre)
    unknown = client.get("/api/v1/households?area=999999999999", headers=cadre)
    assert outside.status_code == unknown.status_code == 404
    assert outside.get_json()["code"] == unknown.get_json()["code"]


def test_the_page_shows_a_hostile_search_as_text(client, sample_district):
    from support import login
    login(client, "town1")
    page = client.get("/households/?q=" + "<script>x</script>" + "长" * 5000)
    assert page.status_code == 200
    html = page.get_data(as_text=True)
    assert "<script>x</script>" not in html and "&lt;script&gt;x&lt;/script&gt;" in html
    assert "长" * 101 not in html  # the search is bounded as the API's is
