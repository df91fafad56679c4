"""The exit procedure (退出程序) through the API: the seven steps in order, each dated with who, each refusal with its
status, every read and write in the caller's areas.

DOMAIN.md "Precisions", line 110: "Exit follows a procedure: 民主评议 → 村两委和驻村工作队核实 → 村内公示 → 镇核查 →
县抽查 → 批准公告 → 备案标注 (001)"."""
import datetime as dt
import io

import pytest
from sqlalchemy import select

from server.db import session_scope
from server.models import AuditEntry
from support import jpeg
from sync.exit_models import ExitStep
from sync.rebuild import rebuild
from sync.renovation_ledger import china_today

HH = "2105040010010001"        # village 1 (town 1)
HH2 = "2105040010010007"       # village 1
OTHER = "2105040020010003"     # town 2: outside town1's areas
COUNTY = "210504"
TODAY = china_today(dt.datetime.now(dt.timezone.utc))


@pytest.fixture
def district(sample_district, make_user):
    codes = sample_district["codes"]
    return {**sample_district, "county": make_user("county1", "supervisor", (codes[COUNTY],)),
            "village1": make_user("village1", "supervisor", (codes["210504001001"],))}


def step(client, headers, name, on=TODAY, number=HH, **body):
    return client.post(f"/api/v1/exits/{number}/steps", json={"step": name, "on": str(on), **body}, headers=headers)


def day(n):
    return str(TODAY - dt.timedelta(days=n))


def test_the_seven_steps_each_by_a_level_that_may_enter_it(client, district, sessions):
    village, town, county = district["village1"], district["town1"], district["county"]
    assert client.get(f"/api/v1/exits/{HH}", headers=town).get_json()["steps"] == []
    for name, who, on in (("appraisal", village, day(30)), ("verification", village, day(25)),
                          ("publicity", village, day(20)), ("town_check", town, day(15)),
                          ("county_check", county, day(10)), ("announcement", county, day(5))):
        answer = step(client, who, name, on, note="村民代表会议" if name == "appraisal" else None)
        assert answer.status_code == 200, answer.get_json()
    detail = client.get(f"/api/v1/exits/{HH}", headers=town).get_json()
    assert [s["step_zh"] for s in detail["steps"]] == ["民主评议", "村两委和驻村工作队核实", "村内公示", "镇核查",
                                                       "县抽查", "批准公告"]
    assert (detail["steps"][0]["by"], detail["steps"][0]["on"], detail["steps"][0]["note"]) == (
        "village1", day(30), "村民代表会议")
    assert detail["next_step"] == "filing" and not detail["may_enter_next"] and not detail["done"]
    # the town supervisor may not enter 备案标注: the county's
    assert step(client, town, "filing").status_code == 403
    done = step(client, county, "filing").get_json()
    assert done["done"] and done["next_step"] is None
    with session_scope(sessions) as session:
        assert len(session.scalars(select(ExitStep)).all()) == 7
        assert session.scalars(select(AuditEntry.action).where(AuditEntry.action == "exit.step")).all() == [
            "exit.step"] * 7


def test_a_step_out_of_order_is_refused_with_409(client, district):
    refused = step(client, district["town1"], "publicity")
    assert refused.status_code == 409
    problem = refused.get_json()
    assert problem["code"] == "exit.out_of_order" and "民主评议" in problem["message_zh"] and "democratic appraisal" in problem["message_en"]
    assert step(client, district["town1"], "appraisal", day(3)).status_code == 200
    assert step(client, district["town1"], "appraisal", day(3)).status_code == 409


def test_a_day_in_the_future_or_before_the_previous_step_is_refused(client, district):
    town = district["town1"]
    future = step(client, town, "appraisal", TODAY + dt.timedelta(days=1))
    assert future.status_code == 400 and future.get_json()["code"] == "exit.date_in_future"
    assert step(client, town, "appraisal", day(3)).status_code == 200
    earlier = step(client, town, "verification", day(4))
    assert earlier.status_code == 400 and earlier.get_json()["code"] == "exit.date_before_previous"


def test_a_cadre_reads_but_may_not_enter_a_step(client, district):
    cadre = district["cadre1"]
    assert client.get(f"/api/v1/exits/{HH}", headers=cadre).status_code == 200
    refused = step(client, cadre, "appraisal")
    assert refused.status_code == 403 and refused.get_json()["code"] == "exit.not_allowed"


def test_another_areas_household_is_404(client, district, admin):
    town = district["town1"]
    assert step(client, admin, "appraisal", number=OTHER).status_code == 200
    assert client.get(f"/api/v1/exits/{OTHER}", headers=town).status_code == 404
    assert step(client, town, "verification", number=OTHER).status_code == 404
    assert client.get("/api/v1/exits", headers=town).get_json() == {"total": 0, "items": []}


def test_the_list_filters_by_area_step_and_done(client, district, admin):
    for number, names in ((HH, ("appraisal", "verification")), (HH2, ("appraisal",)), (OTHER, ())):
        for name in names:
            assert step(client, admin, name, day(2), number=number).status_code == 200
    for name in ("appraisal", "verification", "publicity", "town_check", "county_check", "announcement", "filing"):
        assert step(client, admin, name, day(1), number=OTHER).status_code == 200

    def listed(headers=admin, **query):
        page = client.get("/api/v1/exits", query_string=query, headers=headers).get_json()
        return [(row["household"], row["step"], row["done"]) for row in page["items"]]
    assert listed() == [(HH, "verification", False), (HH2, "appraisal", False), (OTHER, "filing", True)]
    assert listed(step="appraisal") == [(HH2, "appraisal", False)]
    assert listed(done="true") == [(OTHER, "filing", True)]
    assert listed(done="false", area="210504001") == [(HH, "verification", False), (HH2, "appraisal", False)]
    assert listed(headers=district["town1"]) == [(HH, "verification", False), (HH2, "appraisal", False)]
    assert client.get("/api/v1/exits", query_string={"step": "nope"}, headers=admin).status_code == 400


def test_a_step_with_a_document_photo_served_only_as_the_image_it_is(client, district):
    town = district["town1"]
    data = {"step": "appraisal", "on": day(1), "note": "评议记录",
            "photo": (io.BytesIO(jpeg(2000)), "minutes.png", "image/png")}   # declared PNG, content JPEG: refused
    refused = client.post(f"/api/v1/exits/{HH}/steps", data=data, headers=town, content_type="multipart/form-data")
    assert refused.status_code == 400 and refused.get_json()["code"] == "exit.photo_invalid"
    html = {**data, "photo": (io.BytesIO(b"<script>alert(1)</script>"), "minutes.jpg", "image/jpeg")}
    assert client.post(f"/api/v1/exits/{HH}/steps", data=html, headers=town,
                       content_type="multipart/form-data").get_json()["code"] == "exit.photo_invalid"
    good = {**data, "photo": (io.BytesIO(jpeg(2000)), "minutes.jpg", "image/jpeg")}
    answer = client.post(f"/api/v1/exits/{HH}/steps", data=good, headers=town, content_type="multipart/form-data")
    assert answer.status_code == 200, answer.get_json()
    entered = answer.get_json()["steps"][0]
    assert entered["note"] == "评议记录" and entered["photo_url"] == f"/api/v1/exits/{HH}/steps/appraisal/photo"
    with client.get(entered["photo_url"], headers=town) as photo:  # a stored file is streamed: closed after
        assert photo.status_code == 200 and photo.mimetype == "image/jpeg" and photo.data == jpeg(2000)
    assert client.get(entered["photo_url"], headers=district["cadre2"]).status_code == 404   # village 2's cadre
    assert client.get(f"/api/v1/exits/{HH}/steps/verification/photo", headers=town).status_code == 404


def test_a_rebuild_leaves_the_steps_as_entered(app, client, district, sessions):
    """Steps are facts people entered, not derived: `reconcile rebuild` rewrites the records and keeps them."""
    rt = app.extensions["zoufang"]
    for name in ("appraisal", "verification"):
        assert step(client, district["village1"], name, day(2), note=name).status_code == 200
    before = client.get(f"/api/v1/exits/{HH}", headers=district["town1"]).get_json()
    assert rebuild(rt.sessions, rt.queue, batch=10).left == 0
    assert client.get(f"/api/v1/exits/{HH}", headers=district["town1"]).get_json() == before
