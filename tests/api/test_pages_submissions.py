"""The two pages that show one submission (the review page and the household's submission page): times in China
time, people by their display name."""
import re

import pytest
from sqlalchemy import update

from server.db import session_scope
from server.models import User
from support import login, Collect, visit_xml

HH = "2105040010010001"        # village 1 (town 1), cadre001
# 06:03 UTC is 14:03 in China; Collect writes its times with the phone's offset, here UTC
END_UTC = "2026-11-25T06:03:21.000Z"


@pytest.fixture
def named(sample_district, sessions):
    """cadre001 has a display name; town1's is empty (so the user name stands in)."""
    with session_scope(sessions) as session:
        session.execute(update(User).where(User.username == "cadre001").values(display_name="王建国"))
        session.execute(update(User).where(User.username == "town1").values(display_name=""))
    return sample_district


def submit(client, headers, instance_id, username):
    xml = visit_xml(HH, instance_id=instance_id, end=END_UTC, username=username)
    response = Collect(client, headers).submit(xml)
    assert response.status_code == 201, response.get_data(as_text=True)


def cell(html, testid):
    """The shown text of the answer with this data-testid."""
    return re.search(rf'data-testid="{re.escape(testid)}"><span title="[^"]*">([^<]*)<', html).group(1).strip()


def fact(html, label):
    return re.search(rf"<dt>{label}</dt><dd>([^<]*)</dd>", html).group(1).strip()


def test_the_review_page_shows_china_time_and_display_names(client, named, reconcile):
    submit(client, named["cadre1"], "uuid:by-cadre", "cadre001")
    reconcile()
    login(client, "town1")
    html = client.get("/review/submissions/household_visit/uuid:by-cadre").get_data(as_text=True)
    assert cell(html, "field-start") == "2026-11-25 13:48"  # opened a quarter of an hour before (tests/support.py)
    assert cell(html, "field-end") == "2026-11-25 14:03"
    assert cell(html, "field-username") == "王建国"
    assert cell(html, "field-visit_date") == "2026-11-25"  # a date alone stays as it is
    assert fact(html, "填报人") == "王建国"
    assert re.fullmatch(r"\d{4}-\d{2}-\d{2} \d{2}:\d{2}", fact(html, "接收时间"))
    assert f'title="{END_UTC}"' in html  # the raw answer is still at hand


def test_an_empty_display_name_or_an_unknown_name_stays_as_written(client, named, reconcile):
    submit(client, named["town1"], "uuid:by-town", "town1")
    xml = visit_xml(HH, instance_id="uuid:typed", end=END_UTC, username="李四")
    assert Collect(client, named["cadre1"]).submit(xml).status_code == 201
    reconcile()
    login(client, "town1")
    by_town = client.get("/review/submissions/household_visit/uuid:by-town").get_data(as_text=True)
    assert cell(by_town, "field-username") == "town1" and fact(by_town, "填报人") == "town1"
    typed = client.get("/review/submissions/household_visit/uuid:typed").get_data(as_text=True)
    assert cell(typed, "field-username") == "李四" and fact(typed, "填报人") == "王建国"


def test_the_households_submission_page_names_people_the_same_way(client, named, reconcile):
    submit(client, named["cadre1"], "uuid:by-cadre", "cadre001")
    reconcile()
    login(client, "cadre001")
    html = client.get(f"/households/{HH}/submissions/household_visit/uuid:by-cadre").get_data(as_text=True)
    assert fact(html, "填报人") == "王建国"
    username = re.search(r'data-testid="field-username"><span title="cadre001">([^<]*)<', html)
    assert username and username.group(1) == "王建国"
    assert re.search(r'data-testid="field-end"><span title="[^"]+">2026-11-25 14:03<', html)
    english = client.get(f"/households/{HH}/submissions/household_visit/uuid:by-cadre?lang=en").get_data(as_text=True)
    assert fact(english, "Submitted by") == "王建国"


def test_the_review_page_reads_like_the_household_file(client, named, work):
    """Issue 17, 3: the review page shows the form's labels and value labels, not XML names and codes, and says
    whether the visit's evidence holds and why not."""
    xml = visit_xml(HH, instance_id="uuid:far", end=END_UTC, gps="41.5 123.5 100 5")
    assert Collect(client, named["cadre1"]).submit(xml).status_code == 201
    work()
    login(client, "town1")
    pages = [client.get(path).get_data(as_text=True) for path in (
        "/review/submissions/household_visit/uuid:far", f"/households/{HH}/submissions/household_visit/uuid:far")]
    for html in pages:
        label = re.search(r'<dt class="depth-1" title="two_assurances/food_secure">([^<]+)</dt>', html).group(1)
        assert label != "food_secure" and re.search(r"[\u4e00-\u9fff]", label)
        assert cell(html, "field-two_assurances/food_secure") == "是"
    review = pages[0]
    assert re.search(r'data-testid="visit-verdict">存疑<', review)
    assert "走访定位离该户" in review  # the reason, worded with its figures
    english = client.get("/review/submissions/household_visit/uuid:far?lang=en").get_data(as_text=True)
    assert cell(english, "field-two_assurances/food_secure") == "Yes"
