"""The household list, the household file (一户一档) and the submission page behind each value."""
import html as htmllib
import re

import pytest
from sqlalchemy import select

from server.db import session_scope
from support import login, Collect, assessment_xml, income_xml, make_jpeg, visit_xml
from sync.models import Household
from sync.records import HouseholdRecord

HH = "2105040010010001"        # 郝福 (ID 210504194707180878) and 宋建, village 1, 监测户, cadre001
HH7 = "2105040010010007"       # 阎晓玉, village 1
OTHER = "2105040010020002"     # 董明志, village 2


def text(response):
    assert response.status_code == 200, response.get_data(as_text=True)[:2000]
    return response.get_data(as_text=True)


def count_testid(html, name):
    return re.findall(rf'data-testid="{name}"', html)


@pytest.fixture
def device(client, sample_district):
    return Collect(client, sample_district["cadre1"])


def submit(device, xml, files=None):
    response = device.submit(xml, files)
    assert response.status_code == 201, response.get_data(as_text=True)


@pytest.fixture
def history(device, work, reconcile):
    """HH's file: an assessment, two income surveys (the second under the line), a visit with unsafe water and
    a member who died, and a later visit whose photo is waiting for the worker."""
    submit(device, assessment_xml(HH, grade="C", renovation_state="building", instance_id="uuid:assess",
                                  end="2026-11-10T10:00:00+08:00"), {"house.jpg": make_jpeg(), "sign.jpg": make_jpeg()})
    submit(device, income_xml(HH, year=2024, size=2, wage=20000, pension=0, business_gross=0, business_cost=0,
                              instance_id="uuid:income-2024", end="2025-11-22T10:00:00+08:00"))
    submit(device, income_xml(HH, year=2025, size=2, wage=2000, pension=1200, business_gross=0, business_cost=0,
                              instance_id="uuid:income-2025", end="2026-11-12T10:00:00+08:00"))
    submit(device, visit_xml(HH, instance_id="uuid:visit-1", water="no", problems="water",
                             end="2026-11-20T10:00:00+08:00",
                             changes=[{"type": "death", "name": "宋建", "id_number": "21050419270224559X",
                                       "date": "2026-11-01"}]),
           {"family.jpg": make_jpeg(taken="2026:11:20 10:01:00")})
    work()
    submit(device, visit_xml(HH, instance_id="uuid:visit-2", water="no", end="2026-11-24T10:00:00+08:00",
                             base_version=None),
           {"family.jpg": make_jpeg(taken="2026:11:24 10:01:00", halves=("green", "white"))})
    reconcile()  # the second visit is in the file, its photo not processed yet
    return work


# ---- the list ---------------------------------------------------------------------------------------------------

def test_the_list_holds_the_callers_households_and_searches(client, sample_district):
    login(client, "cadre001")
    html = text(client.get("/households/"))
    numbers = re.findall(r'data-testid="household-row" data-number="(\d+)"', html)
    assert len(numbers) == 19 and all(n.startswith("210504001001") for n in numbers)
    assert OTHER not in html
    by_name = text(client.get("/households/", query_string={"q": "郝福"}))
    assert re.findall(r'data-number="(\d+)"', by_name) == [HH]
    by_number = text(client.get("/households/", query_string={"q": "210504001001000"}))
    assert set(re.findall(r'data-number="(\d+)"', by_number)) == {HH, HH7}
    monitored = text(client.get("/households/", query_string={"status": "监测户"}))
    assert HH in monitored and HH7 not in monitored  # 阎晓玉 has exited
    # DOMAIN.md Precisions: monitoring subtypes are kept — and filtered on
    unstable = text(client.get("/households/", query_string={"monitoring_type": "脱贫不稳定户"}))
    assert HH in unstable and "监测户（脱贫不稳定户）" in unstable
    edge = text(client.get("/households/", query_string={"monitoring_type": "边缘易致贫户"}))
    assert HH not in edge and edge.count("监测户（边缘易致贫户）") == len(re.findall(r'data-number="(\d+)"', edge)) > 0
    assert 'data-testid="household-empty"' in text(client.get("/households/", query_string={"q": "没有这个人"}))


def test_the_list_filters_by_flag_and_month_state(client, device, sample_district, history):
    login(client, "cadre001")
    flagged = text(client.get("/households/", query_string={"flag": "income_drop"}))
    assert re.findall(r'data-number="(\d+)"', flagged) == [HH]
    assert "收入骤降" in flagged
    visited = text(client.get("/households/", query_string={"state": "verified", "month": "2026-11"}))
    assert re.findall(r'data-number="(\d+)"', visited) == [HH]
    missed = text(client.get("/households/", query_string={"state": "not_visited", "month": "2026-11"}))
    assert len(re.findall(r'data-number="(\d+)"', missed)) == 18


def test_the_list_is_paginated(client, admin, sample_district):
    login(client, "admin")
    first = text(client.get("/households/"))
    assert len(count_testid(first, "household-row")) == 50 and "共 113 户" in first
    last = text(client.get("/households/", query_string={"page": 3}))
    assert len(count_testid(last, "household-row")) == 13 and 'rel="prev"' in last and 'rel="next"' not in last


def test_the_list_of_another_area_is_404(client, sample_district):
    login(client, "cadre002")
    response = client.get("/households/", query_string={"area": "210504001001"})
    assert response.status_code == 404 and 'role="alert"' in response.get_data(as_text=True)


def test_pages_need_a_login(client, sample_district):
    for path in ("/households/", f"/households/{HH}", f"/households/{HH}/submissions/household_visit/uuid:x"):
        response = client.get(path)
        assert response.status_code == 302 and "/login" in response.headers["Location"]


# ---- the file ---------------------------------------------------------------------------------------------------

def test_the_file_shows_status_and_the_two_assurances_with_their_sources(client, sample_district, history):
    login(client, "cadre001")
    html = text(client.get(f"/households/{HH}"))
    # DOMAIN.md Precisions: "Monitoring subtypes are kept, not folded" — the page names the kind
    assert re.search(r'data-testid="household-status">监测户（脱贫不稳定户）<', html)
    water = re.search(r'data-testid="glance-water_safe" data-tone="(\w+)">(.*?)</li>', html, re.S)
    assert water.group(1) == "bad" and "否" in water.group(2)
    assert f'href="/households/{HH}/submissions/household_visit/uuid:visit-2"' in water.group(2)  # the newest
    food = re.search(r'data-testid="glance-food_secure" data-tone="(\w+)">(.*?)</li>', html, re.S)
    assert food.group(1) == "ok" and "uuid:visit-2" in food.group(2)
    housing = re.search(r'data-testid="glance-housing_safe" data-tone="(\w+)">(.*?)</li>', html, re.S)
    assert "住房安全等级: A" in housing.group(2)  # the later visit's grade is the newer observation
    income = re.search(r'data-testid="glance-income_per_capita" data-tone="(\w+)">(.*?)</li>', html, re.S)
    assert "1,600 元" in income.group(2) and "uuid:income-2025" in income.group(2)
    # DOMAIN.md Precisions: "After 2020 the figure in force is a monitoring range (监测范围), not a poverty line"
    assert "监测范围" in income.group(2) and "贫困标准" not in income.group(2)
    exit_ = re.search(r'data-testid="glance-exit_eligible" data-tone="(\w+)">(.*?)</li>', html, re.S)
    assert "否" in exit_.group(2)  # surveyed, and under the figure
    assert re.search(r'data-testid="monitoring-flag" data-code="income_drop"', html)


def test_members_are_listed_with_masked_id_numbers(client, sample_district, history):
    login(client, "cadre001")
    html = text(client.get(f"/households/{HH}"))
    assert len(count_testid(html, "member")) == 1  # 宋建 died: the visit removed him
    assert "210504********0878" in html and "210504194707180878" not in html
    assert "21050419270224559X" not in html


def test_the_timeline_is_newest_first_with_every_kind_of_event(client, sample_district, history):
    login(client, "cadre001")
    html = text(client.get(f"/households/{HH}"))
    kinds = re.findall(r'data-testid="timeline-item" data-kind="(\w+)"', html)
    assert kinds == ["household_visit", "member_removed", "household_visit", "income_into_monitoring_range",
                     "income_survey",
                     "housing_assessment", "income_survey"]
    first_visit = html.split('data-kind="household_visit"')[2]
    assert "吃饭有困难" not in first_visit and "饮水不安全" in first_visit  # choice labels from the form
    assert f'href="/households/{HH}/submissions/housing_assessment/uuid:assess"' in html
    assert "在建" in html  # renovation state label


def test_photos_are_thumbnails_once_the_worker_ran(client, sample_district, history):
    login(client, "cadre001")
    html = text(client.get(f"/households/{HH}"))
    thumb = "/api/v1/submissions/household_visit/uuid:visit-1/attachments/family.jpg/thumb"
    preview = "/api/v1/submissions/household_visit/uuid:visit-1/attachments/family.jpg/preview"
    assert f'src="{thumb}"' in html and f'src="{preview}"' in html
    assert len(count_testid(html, "photo-thumb")) == 3  # visit 1's family photo, the assessment's house and sign
    placeholders = re.findall(r'data-testid="photo-placeholder" data-state="(\w+)"', html)
    assert placeholders == ["processing"]  # visit 2's photo waits for the worker
    for url in (thumb, preview):
        with client.get(url) as response:
            assert response.status_code == 200 and response.mimetype == "image/jpeg"
    history()  # the worker makes the last thumbnail
    html = text(client.get(f"/households/{HH}"))
    assert len(count_testid(html, "photo-thumb")) == 4 and "photo-placeholder" not in html


def test_a_photo_that_never_arrived_says_so(client, device, sample_district, work):
    submit(device, visit_xml(HH, instance_id="uuid:no-photo"))  # names family.jpg, sends nothing
    work()
    login(client, "cadre001")
    html = text(client.get(f"/households/{HH}"))
    assert re.findall(r'data-testid="photo-placeholder" data-state="(\w+)"', html) == ["missing"]
    assert "照片尚未上传" in html
    assert re.search(r'data-testid="visit-verdict">存疑<', html)


def test_a_supervisor_sees_the_file_and_the_other_village_is_404(client, sample_district, history):
    login(client, "town1")
    assert 'data-testid="household-timeline"' in text(client.get(f"/households/{HH}"))
    client.post("/logout", data={})
    login(client, "cadre002")
    for path in (f"/households/{HH}", f"/households/{HH}/submissions/household_visit/uuid:visit-1",
                 f"/households/{HH}/submissions/household_visit/uuid:nothing"):
        response = client.get(path)
        assert response.status_code == 404, path
        assert 'role="alert"' in response.get_data(as_text=True)
    assert client.get("/households/2105049999999999").status_code == 404


def test_a_household_without_submissions_shows_the_roster(client, sample_district):
    login(client, "cadre002")
    html = text(client.get(f"/households/{OTHER}"))
    assert "董明志" in html and len(count_testid(html, "member")) == 5
    assert "还没有走访、鉴定或收入调查记录。" in html
    assert re.search(r'data-testid="household-status">已脱贫<', html)


def test_without_an_income_survey_the_exit_standard_cannot_be_judged(client, sample_district):
    """DOMAIN.md:61 the exit standard needs the year's per-capita income: never surveyed is 无法判断 (未调查收入), not
    否 (issue 14 item 12)."""
    login(client, "cadre002")
    html = text(client.get(f"/households/{OTHER}"))
    exit_ = re.search(r'data-testid="glance-exit_eligible" data-tone="(\w+)">(.*?)</li>', html, re.S)
    assert exit_.group(1) == "unknown" and "无法判断（未调查收入）" in exit_.group(2) and "否" not in exit_.group(2)


# ---- the submission page ---------------------------------------------------------------------------------------

def test_the_submission_page_shows_the_answers_with_the_forms_labels(client, sample_district, history):
    login(client, "cadre001")
    html = text(client.get(f"/households/{HH}/submissions/household_visit/uuid:visit-1"))
    assert re.search(r'data-testid="submission-instance">uuid:visit-1<', html)
    assert "不愁吃" in html and "饮水不安全" in html  # question and choice labels from the XForm
    assert "成员变动 #1" in html and "宋建" in html
    assert 'src="/api/v1/submissions/household_visit/uuid:visit-1/attachments/family.jpg/thumb"' in html
    assert "/api/v1/submissions/household_visit/uuid:visit-1/xml" in html


def test_a_submission_is_only_reachable_through_its_own_household(client, sample_district, history):
    login(client, "cadre001")
    assert client.get(f"/households/{HH7}/submissions/household_visit/uuid:visit-1").status_code == 404
    assert client.get(f"/households/{HH}/submissions/income_survey/uuid:visit-1").status_code == 404


# ---- English ----------------------------------------------------------------------------------------------------

def test_the_file_and_list_in_english(client, sample_district, history):
    login(client, "cadre001")
    html = text(client.get(f"/households/{HH}?lang=en"))
    for words in ("Enough food", "Safe drinking water assured", "Members (1)", "Door-to-door visit",
                  "Housing-safety assessment", "Income within the monitoring range",
                  "Member left", "Drinking water not safe"):
        assert words in htmllib.unescape(html), words
    listed = text(client.get("/households/"))  # the cookie keeps English
    assert "Household number or head&#39;s name" in listed or "Household number or head's name" in listed
    submission = text(client.get(f"/households/{HH}/submissions/household_visit/uuid:visit-1"))
    assert "Enough food" in submission and "Answers" in submission


def test_conflicts_show_open_then_as_a_resolution_in_the_timeline(app, client, sample_district, reconcile):
    a = Collect(client, sample_district["cadre1"])
    b = Collect(client, sample_district["town1"])
    submit(a, visit_xml(HH, instance_id="uuid:grade-b", grade="B", end="2026-11-20T09:00:00+08:00"))
    submit(b, visit_xml(HH, instance_id="uuid:grade-c", grade="C", house_safe="no", end="2026-11-20T15:00:00+08:00"))
    reconcile()
    login(client, "town1")
    html = text(client.get(f"/households/{HH}"))
    conflicts = re.search(r'data-testid="household-conflicts">(.*?)</section>', html, re.S).group(1)
    assert "住房安全等级" in conflicts and "uuid:grade-b" in conflicts and "uuid:grade-c" in conflicts
    key = next(c["key"] for c in client.get("/api/v1/conflicts", headers=sample_district["town1"]).get_json()
               if c["field"] == "housing_grade")
    api = app.test_client()  # Basic auth, without the page's session (which would need the CSRF header)
    assert api.post(f"/api/v1/conflicts/{key}/resolve", json={"value": "B"},
                    headers=sample_district["town1"]).status_code == 200
    html = text(client.get(f"/households/{HH}"))
    still_open = re.search(r'data-testid="household-conflicts">(.*?)</section>', html, re.S).group(1)
    assert "住房安全有保障" in still_open and "住房安全等级" not in still_open  # housing_safe is still open
    assert re.findall(r'data-testid="timeline-item" data-kind="(\w+)"', html)[0] == "conflict_resolved"
    assert "督导裁定 · town1" in html  # the value's source


def test_a_proposed_location_waits_for_a_supervisor(client, device, sample_district, sessions, work):
    with session_scope(sessions) as session:
        household = session.scalar(select(Household).where(Household.number == HH))
        household.latitude = household.longitude = None
    submit(device, visit_xml(HH, instance_id="uuid:here", gps="41.3 123.8 100 8"), {"family.jpg": make_jpeg()})
    work()
    login(client, "cadre001")
    html = text(client.get(f"/households/{HH}"))
    assert "未确认" in html and "建议位置" in html and "41.3, 123.8" in html
    assert "该户没有确认的位置，无法核对距离" in html  # the visit's reason


# ---- confirming the proposed location ----------------------------------------------------------------------------

@pytest.fixture
def proposal(device, sample_district, sessions, work):
    """HH without a known location, and an accurate visit at 41.3, 123.8 that proposes one."""
    with session_scope(sessions) as session:
        household = session.scalar(select(Household).where(Household.number == HH))
        household.latitude = household.longitude = None
    submit(device, visit_xml(HH, instance_id="uuid:here", gps="41.3 123.8 100 8"), {"family.jpg": make_jpeg()})
    work()
    return sample_district


def confirm_form(html):
    """The fields of the file's confirm form (the CSRF token and the point shown), or None without the form."""
    form = re.search(r'data-testid="confirm-location-form">(.*?)</form>', html, re.S)
    return form and dict(re.findall(r'name="(\w+)" value="([^"]*)"', form.group(1)))


def any_csrf(client):
    return re.search(r'name="csrf_token" value="([^"]+)"', text(client.get("/households/"))).group(1)


def location_of(sessions, number=HH):
    with session_scope(sessions) as session:
        household = session.scalar(select(Household).where(Household.number == number))
        record = session.scalar(select(HouseholdRecord).where(HouseholdRecord.household_id == household.id))
        return (household.latitude, household.longitude), "proposed_location" in record.fields


def test_a_supervisor_confirms_the_proposed_location_on_the_file(client, proposal, sessions):
    login(client, "town1")
    form = confirm_form(text(client.get(f"/households/{HH}")))
    assert form["latitude"] == "41.3" and form["longitude"] == "123.8"
    response = client.post(f"/households/{HH}/location", data=form)
    assert response.status_code == 302 and response.location.endswith(f"/households/{HH}")
    assert location_of(sessions) == ((41.3, 123.8), False)  # set, and the proposal is gone
    html = text(client.get(f"/households/{HH}"))
    assert "已确认该户位置。" in html
    assert re.search(r'data-testid="household-location">41.300000, 123.800000', html)
    assert confirm_form(html) is None and 'data-testid="proposed-location"' not in html
    assert "该户没有确认的位置，无法核对距离" not in html  # the visit is judged again against the house
    english = text(client.get(f"/households/{HH}?lang=en"))
    assert 'data-testid="household-location">41.300000, 123.800000' in english


def test_a_cadre_sees_the_proposal_without_a_button_and_cannot_confirm_it(client, proposal, sessions):
    login(client, "cadre001")
    html = text(client.get(f"/households/{HH}"))
    assert 'data-testid="proposed-location"' in html and "待督导确认" in html and confirm_form(html) is None
    response = client.post(f"/households/{HH}/location",
                           data={"csrf_token": any_csrf(client), "latitude": "41.3", "longitude": "123.8"})
    assert response.status_code == 403
    assert location_of(sessions) == ((None, None), True)


def test_another_areas_supervisor_gets_404_and_a_changed_proposal_is_not_confirmed(client, proposal, sessions,
                                                                                    make_user):
    make_user("town2", "supervisor", (proposal["codes"]["210504002"],))
    login(client, "town2")
    response = client.post(f"/households/{HH}/location",
                           data={"csrf_token": any_csrf(client), "latitude": "41.3", "longitude": "123.8"})
    assert response.status_code == 404
    login(client, "town1")
    form = confirm_form(text(client.get(f"/households/{HH}")))
    assert client.post(f"/households/{HH}/location", data={**form, "csrf_token": ""}).status_code == 400
    stale = client.post(f"/households/{HH}/location", data={**form, "latitude": "41.2"})
    assert stale.status_code == 302
    assert "建议位置已经变化，请查看后再确认。" in text(client.get(f"/households/{HH}"))
    assert location_of(sessions) == ((None, None), True)


def test_the_file_names_people_by_their_display_name(client, sample_district, history, sessions):
    from server.models import User

    with session_scope(sessions) as session:
        session.scalar(select(User).where(User.username == "cadre001")).display_name = "李干部"
    login(client, "cadre001")
    html = text(client.get(f"/households/{HH}"))
    water = re.search(r'data-testid="glance-water_safe" data-tone="(\w+)">(.*?)</li>', html, re.S).group(2)
    assert "李干部" in water and "cadre001" not in water  # the value's source
    visit = html.split('data-kind="household_visit"')[1].split('data-testid="timeline-item"')[0]
    assert "李干部" in visit and "cadre001" not in visit
