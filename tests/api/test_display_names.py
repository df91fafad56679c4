"""Issue 17, item 4: pages name people, not accounts: the household list's paired cadre, a conflict's authors and
the map's popups show display names (the login name stays at hand as a hint)."""
import re

import pytest
from sqlalchemy import update

from server.db import session_scope
from server.models import User
from support import Collect, login, new_instance_id, visit_xml

HH = "2105040010010001"        # village 1, paired with cadre001


@pytest.fixture
def named(sample_district, sessions):
    with session_scope(sessions) as session:
        session.execute(update(User).where(User.username == "cadre001").values(display_name="王建国"))
        session.execute(update(User).where(User.username == "town1").values(display_name="李镇长"))
    return sample_district


def test_the_household_list_names_the_paired_cadre(client, named):
    login(client, "town1")
    html = client.get(f"/households/?q={HH}").get_data(as_text=True)
    assert re.search(r'<span title="cadre001" data-testid="household-cadre">王建国</span>', html)
    filtered = client.get("/households/?cadre=cadre001").get_data(as_text=True)
    assert "帮扶责任人: 王建国" in filtered


def test_conflict_cards_and_the_map_name_people(client, named, work):
    for headers, grade, end, username in ((named["cadre1"], "B", "2026-11-20T09:00:00+08:00", "cadre001"),
                                          (named["town1"], "C", "2026-11-20T15:00:00+08:00", "town1")):
        assert Collect(client, headers).submit(visit_xml(
            HH, instance_id=new_instance_id(), grade=grade, base_version=1, end=end,
            username=username)).status_code == 201
    work()
    login(client, "town1")
    conflicts = client.get("/review/conflicts").get_data(as_text=True)
    authors = re.findall(r'data-testid="conflict-by">([^<]+)<', conflicts)
    assert {"王建国", "李镇长"} <= set(authors) and "cadre001" not in authors
    geojson = client.get("/api/v1/map?month=2026-11", headers=named["town1"]).get_json()
    household = next(f for f in geojson["features"] if f["id"] == f"household/{HH}")
    assert household["properties"]["cadre"] == "cadre001"
    assert household["properties"]["cadre_name"] == "王建国"
    visits = [f["properties"] for f in geojson["features"] if f["properties"]["kind"] == "visit"
              and f["properties"]["household"] == HH]
    assert {v["by_name"] for v in visits} == {"王建国", "李镇长"}
