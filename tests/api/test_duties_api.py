"""Visiting duties by role (遍访) over the API: the role each visit was received with, and who has not met their
duty. Visits come in over OpenRosa as Collect sends them, from accounts whose duty role the CLI set.

Village 210504001001 (高峪一村, 19 households: cadre001 7, cadre004 6, cadre007 6), November 2026: cadre001 (paired
cadre) visits 郝福; town1 (a supervisor, role 其他) visits 孔志明, cadre004's; vsec (village secretary) visits 阎晓玉
in November and 龙立长 in October 2025, before the 12 months' period; tsec (town secretary) visits 黄亮 in June;
wt1 (work team) visits two households on two days.
"""
import pytest
from sqlalchemy import select

from server.db import session_scope
from server.models import User
from support import Collect, visit_xml
from sync.models import Submission
from sync.records import Visit

HAO_FU, YAN, KONG, LONG, HUANG = ("2105040010010001", "2105040010010007", "2105040010010013", "2105040010010019",
                                  "2105040010010037")
TOWN, VILLAGE, VILLAGE_2, OTHER_TOWN = "210504001", "210504001001", "210504001002", "210504002"
MONTH = "2026-11"


def set_duty(runner, name, duty):
    result = runner.invoke(args=["users", "set-duty", name, duty])
    assert result.exit_code == 0, result.output


@pytest.fixture
def duties(client, runner, sample_district, make_user, work):
    codes = sample_district["codes"]
    people = {"vsec": make_user("vsec", "cadre", (codes[VILLAGE],)),
              "tsec": make_user("tsec", "supervisor", (codes[TOWN],)),
              "wt1": make_user("wt1", "cadre", (codes[VILLAGE],))}
    for name, duty in (("cadre001", "paired"), ("vsec", "village_secretary"), ("tsec", "town_secretary"),
                       ("wt1", "work_team")):
        set_duty(runner, name, duty)
    sent = [(sample_district["cadre1"], visit_xml(HAO_FU, instance_id="uuid:hao")),
            (sample_district["town1"], visit_xml(KONG, instance_id="uuid:kong", username="town1")),
            (people["vsec"], visit_xml(YAN, instance_id="uuid:yan", username="cadre001")),
            (people["vsec"], visit_xml(LONG, instance_id="uuid:long", end="2025-10-15T10:00:00+08:00")),
            (people["tsec"], visit_xml(HUANG, instance_id="uuid:huang", end="2026-06-10T10:00:00+08:00")),
            (people["wt1"], visit_xml(HAO_FU, instance_id="uuid:wt-a", end="2026-11-03T10:00:00+08:00")),
            (people["wt1"], visit_xml(YAN, instance_id="uuid:wt-b", end="2026-11-04T10:00:00+08:00"))]
    for headers, xml in sent:
        response = Collect(client, headers).submit(xml)
        assert response.status_code == 201, response.get_data(as_text=True)
    work()
    return {**sample_district, **people}


def get(client, headers, expect=200, **query):
    response = client.get("/api/v1/coverage/duties", query_string=query, headers=headers)
    assert response.status_code == expect, response.get_data(as_text=True)
    return response.get_json()


def village(data, code=VILLAGE):
    return next(v for v in data["villages"] if v["village"]["code"] == code)


def secretary(v, duty):
    return next(s for s in v["secretaries"] if s["duty"] == duty)


def missing(v, duty):
    return {h["number"] for h in secretary(v, duty)["missing"]}


def test_each_visit_keeps_the_role_its_account_had_when_it_was_received(duties, sessions):
    with session_scope(sessions) as session:
        roles = dict(session.execute(select(Submission.instance_id, Submission.visitor_duty)).all())
        visits = dict(session.execute(select(Submission.instance_id, Visit.visitor_duty)
                                      .join(Submission, Submission.id == Visit.submission_id)).all())
    assert roles["uuid:hao"] == "paired" and roles["uuid:kong"] == "other" and roles["uuid:yan"] == "village_secretary"
    assert roles["uuid:huang"] == "town_secretary" and roles["uuid:wt-a"] == "work_team"
    assert visits == roles  # the reconciler copies the role into the visits


def test_a_visit_by_someone_other_than_the_paired_cadre_does_not_meet_the_paired_duty(client, duties):
    v = village(get(client, duties["town1"], month=MONTH, area=VILLAGE))
    cadres = {c["cadre"]["username"]: c for c in v["cadres"]}
    assert (cadres["cadre001"]["assigned"], cadres["cadre001"]["missing_count"]) == (7, 6)
    assert HAO_FU not in {h["number"] for h in cadres["cadre001"]["missing"]}
    # 孔志明 was visited by town1, not by cadre004; 阎晓玉 by the village secretary and the work team, not cadre007
    assert cadres["cadre004"]["missing_count"] == 6 and KONG in {h["number"] for h in cadres["cadre004"]["missing"]}
    assert cadres["cadre007"]["missing_count"] == 6 and YAN in {h["number"] for h in cadres["cadre007"]["missing"]}
    assert v["paired_missing"] == 18 and v["households"] == 19


def test_a_secretarys_visit_within_the_period_meets_theirs_and_outside_it_does_not(client, duties):
    v = village(get(client, duties["town1"], month=MONTH, area=VILLAGE))
    assert [p["username"] for p in secretary(v, "village_secretary")["accounts"]] == ["vsec"]
    assert (secretary(v, "village_secretary")["first"], secretary(v, "village_secretary")["last"]) == (
        "2025-12", MONTH)
    assert YAN not in missing(v, "village_secretary") and LONG in missing(v, "village_secretary")
    assert secretary(v, "village_secretary")["missing_count"] == 18
    assert HUANG not in missing(v, "town_secretary") and YAN in missing(v, "town_secretary")
    assert [p["username"] for p in secretary(v, "town_secretary")["accounts"]] == ["tsec"]
    # in May 2026 黄亮's June visit has not happened yet; in October 2025 龙立长's counts
    may = village(get(client, duties["town1"], month="2026-05", area=VILLAGE))
    assert HUANG in missing(may, "town_secretary")
    october = village(get(client, duties["town1"], month="2025-10", area=VILLAGE))
    assert LONG not in missing(october, "village_secretary")


def test_the_work_teams_visits_and_days_are_counted(client, duties):
    v = village(get(client, duties["town1"], month=MONTH, area=VILLAGE))
    assert v["work_team"] == [{"member": {"username": "wt1", "name": "wt1"}, "visits": 2, "days": 2,
                               "enough": False}]
    assert v["work_team_days"] == 20


def test_the_role_stays_as_received_after_the_accounts_role_changes_and_after_a_rebuild(client, runner, duties):
    set_duty(runner, "vsec", "other")
    # a visit received after the change comes with the new role: it does not do the secretary's duty
    response = Collect(client, duties["vsec"]).submit(visit_xml(LONG, instance_id="uuid:long-2"))
    assert response.status_code == 201
    result = runner.invoke(args=["reconcile", "run", "--once"])
    assert result.exit_code == 0, result.output
    before = village(get(client, duties["town1"], month=MONTH, area=VILLAGE))
    assert YAN not in missing(before, "village_secretary") and LONG in missing(before, "village_secretary")
    assert before["secretaries"][0]["accounts"] == []  # nobody holds the role any more
    rebuilt = runner.invoke(args=["reconcile", "rebuild"])
    assert rebuilt.exit_code == 0, rebuilt.output
    after = village(get(client, duties["town1"], month=MONTH, area=VILLAGE))
    assert after == before


def test_an_edit_keeps_the_role_of_the_visit_it_corrects(client, duties, work, sessions):
    """A supervisor (role 其他) corrects the village secretary's visit: the visit stays the secretary's."""
    edit = visit_xml(YAN, instance_id="uuid:yan-edit", deprecated_id="uuid:yan", food="no")
    response = Collect(client, duties["town1"]).submit(edit)
    assert response.status_code == 201, response.get_data(as_text=True)
    work()
    with session_scope(sessions) as session:
        assert session.scalar(select(Submission.visitor_duty)
                              .where(Submission.instance_id == "uuid:yan-edit")) == "village_secretary"
    v = village(get(client, duties["town1"], month=MONTH, area=VILLAGE))
    assert YAN not in missing(v, "village_secretary")


def test_above_a_village_the_villages_come_with_counts_not_lists(client, duties):
    data = get(client, duties["town1"], month=MONTH)
    assert data["area"]["code"] == TOWN
    assert [v["village"]["code"] for v in data["villages"]] == [VILLAGE, VILLAGE_2]
    first = village(data)
    assert secretary(first, "village_secretary")["missing_count"] == 18 and "missing" not in secretary(
        first, "village_secretary")
    second = village(data, VILLAGE_2)
    assert secretary(second, "village_secretary")["accounts"] == [] and second["work_team"] == []


@pytest.mark.parametrize("user, area", [("cadre2", VILLAGE), ("cadre2", TOWN), ("town1", OTHER_TOWN),
                                        ("vsec", VILLAGE_2), ("town1", "999999")])
def test_an_area_outside_the_callers_areas_is_not_found(client, duties, user, area):
    problem = get(client, duties[user], expect=404, month=MONTH, area=area)
    assert problem["code"] == "area.not_found"


def test_another_areas_villages_are_not_counted(client, duties):
    data = get(client, duties["cadre2"], month=MONTH)
    assert [v["village"]["code"] for v in data["villages"]] == [VILLAGE_2]


@pytest.mark.parametrize("query, name", [({"month": "2026-13"}, "month"), ({"month": "11/2026"}, "month"),
                                         ({"area": ""}, "area"), ({"area": "x" * 33}, "area")])
def test_bad_arguments_are_a_problem_naming_the_parameter(client, duties, query, name):
    problem = get(client, duties["town1"], expect=400, **query)
    assert problem["code"] == "request.invalid" and name in problem["details"]


def test_the_api_needs_a_user(client, sample_district):
    assert client.get("/api/v1/coverage/duties").status_code == 401


def test_the_cli_sets_the_duty_on_creation_and_refuses_an_unknown_one(runner, sessions, sample_district):
    created = runner.invoke(args=["users", "create", "sec9", "--role", "cadre", "--area", VILLAGE, "--duty",
                                  "village_secretary", "--display-name", "王书记", "--password-stdin"],
                            input="a-long-password\n")
    assert created.exit_code == 0, created.output
    with session_scope(sessions) as session:
        assert session.scalar(select(User.duty).where(User.username == "sec9")) == "village_secretary"
    assert runner.invoke(args=["users", "set-duty", "sec9", "mayor"]).exit_code == 2
    assert runner.invoke(args=["users", "set-duty", "nobody", "other"]).exit_code == 1
    listed = runner.invoke(args=["users", "list"])
    assert "sec9\tcadre\t王书记\t210504001001\tactive\tvillage_secretary" in listed.output
