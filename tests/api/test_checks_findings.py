"""The checks of issue 14 items 5 and 11 through the whole path: submitted, reconciled, listed in the quality list
and shown in the household file, and reproduced by `reconcile rebuild`.

DOMAIN.md:68-70 (a visit counts only if it happened at the house, GPS and a photo taken then are the evidence),
DOMAIN.md:73 (data-quality findings are found and listed for correction), DOMAIN.md:30-32 (the file says who
recorded what, 数出有源).
"""
import pytest
from sqlalchemy import select

from server.db import session_scope
from support import Collect, assessment_xml, income_xml, login, make_jpeg, visit_xml
from sync.models import Household, Job
from sync.rebuild import rebuild
from sync.records import Finding

HH, HH7 = "2105040010010001", "2105040010010007"   # HH at 41.296222, 123.801020; both in village 1 (cadre001)


@pytest.fixture
def send(client, sample_district):
    """Submit as cadre001's phone, each submission accepted."""
    phone = Collect(client, sample_district["cadre1"])

    def submit(xml, files=None):
        response = phone.submit(xml, files)
        assert response.status_code == 201, response.get_data(as_text=True)
    return submit


def quality(client, sample_district, number=HH):
    listed = client.get("/api/v1/quality?limit=500", headers=sample_district["town1"]).get_json()["findings"]
    return {f["code"] for f in listed if f["household"] == number}


def stored(sessions):
    with session_scope(sessions) as session:
        return sorted((number, code, repr(sorted(details.items()))) for number, code, details in session.execute(
            select(Household.number, Finding.code, Finding.details).join(Household, Household.id == Finding.household_id)
            .where(Finding.kind == "quality")))


def test_a_visits_own_checks_are_listed_and_its_notes_shown_in_the_household_file(send, client, sample_district,
                                                                                work):
    send(visit_xml(HH, instance_id="uuid:quick", username="somebody", medical="no",
                             start="2026-11-20T09:58:30+08:00", end="2026-11-20T10:00:00+08:00",
                             answers={"two_assurances/not_insured_count": 1,
                                      "two_assurances/not_insured_names": "宋建，外出未续保",
                                      "two_assurances/out_of_school": 0,
                                      "two_assurances/out_of_school_note": "无"}))
    work()
    assert quality(client, sample_district) >= {"fill_too_short", "username_mismatch", "insurance_mismatch"}
    record = client.get(f"/api/v1/households/{HH}", headers=sample_district["town1"]).get_json()
    assert record["latest_visit"]["not_insured_names"] == "宋建，外出未续保"
    assert record["latest_visit"]["by"] == "cadre001"  # the account, whatever the form's user name
    login(client, "town1")
    html = client.get(f"/households/{HH}").get_data(as_text=True)
    assert "宋建，外出未续保" in html and "未参保人员及原因" in html
    assert "用户名“somebody”不是提交它的账号“cadre001”" in html
    assert "从打开到完成只用了 1.5 分钟" in html and "用户名与账号不符" in html  # the finding's label


def test_a_visit_at_a_plausible_pace_by_its_account_has_none_of_them(send, client, sample_district, work):
    send(visit_xml(HH, start="2026-11-20T09:57:00+08:00", end="2026-11-20T10:00:00+08:00"))
    work()
    assert not quality(client, sample_district) & {"fill_too_short", "username_mismatch", "insurance_mismatch",
                                                   "start_far_from_date"}


def test_an_assessment_far_from_the_house_with_an_old_photo_is_listed(send, client, sample_district, work):
    send(assessment_xml(HH, username="cadre001", end="2026-11-21T10:00:00+08:00",
                                  answers={"gps": "41.31 123.80 90 4"}),
           {"house.jpg": make_jpeg(taken="2026:10:01 10:00:00"), "sign.jpg": make_jpeg(taken="2026:11:21 10:00:00")})
    work()
    listed = client.get("/api/v1/quality?limit=500", headers=sample_district["town1"]).get_json()["findings"]
    mine = [f for f in listed if f["household"] == HH and f["code"] in ("gps_far", "photo_time_mismatch")]
    assert sorted(f["code"] for f in mine) == ["gps_far", "photo_time_mismatch"]
    assert all(f["details"]["form"] == "housing_assessment" for f in mine)


def test_the_same_photo_for_two_households_is_a_finding_on_both_and_a_rebuild_gives_the_same(
        app, send, client, sample_district, sessions, work):
    photo = make_jpeg(taken="2026:11:20 10:01:00")
    send(visit_xml(HH, instance_id="uuid:first", end="2026-11-20T10:00:00+08:00"), {"family.jpg": photo})
    work()
    assert OTHER not in quality(client, sample_district)
    # a month later, the same photo as another household's income sheet, and as HH's visit again
    send(income_xml(HH7, instance_id="uuid:sheet", end="2026-12-20T10:00:00+08:00",
                              answers={"photo_ledger": "sheet.jpg"}), {"sheet.jpg": photo})
    send(visit_xml(HH, instance_id="uuid:again", end="2026-12-20T10:00:00+08:00"), {"family.jpg": photo})
    work()
    assert OTHER in quality(client, sample_district, HH) and OTHER in quality(client, sample_district, HH7)
    assert "photo_other_month" in quality(client, sample_district, HH)
    with session_scope(sessions) as session:
        assert session.scalar(select(Job.id).where(Job.kind == "reconcile")) is None  # the telling has stopped
    before = stored(sessions)
    rt = app.extensions["zoufang"]
    assert rebuild(rt.sessions, rt.queue, batch=10).left == 0
    work()
    assert stored(sessions) == before


def test_a_photo_no_longer_shared_clears_the_other_households_finding(send, client, sample_district, work):
    photo = make_jpeg(taken="2026:11:20 10:01:00")
    send(visit_xml(HH, instance_id="uuid:a", end="2026-11-20T10:00:00+08:00"), {"family.jpg": photo})
    send(visit_xml(HH7, instance_id="uuid:b", end="2026-11-20T10:00:00+08:00"), {"family.jpg": photo})
    work()
    assert OTHER in quality(client, sample_district, HH)
    # HH7's visit is edited with a photo of its own: HH's finding goes too
    send(visit_xml(HH7, instance_id="uuid:b2", deprecated_id="uuid:b", end="2026-11-20T10:00:00+08:00",
                             photo="own.jpg"), {"own.jpg": make_jpeg(taken="2026:11:20 10:02:00", halves=("red", "blue"))})
    work()
    assert OTHER not in quality(client, sample_district, HH) and OTHER not in quality(client, sample_district, HH7)


OTHER = "photo_other_household"
