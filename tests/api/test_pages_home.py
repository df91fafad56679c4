"""The home pages (issue 15): a cadre's 今日工作 lists the cadre's own paired households (not the village's others),
who is not visited this month first, each with its last visit; a supervisor's 工作台 counts this month's work in the
supervisor's areas only, and every number opens a list that shows the same count."""
import datetime as dt
import html
import re

import pytest
from sqlalchemy import select

from forms.models import Form
from server.db import session_scope
from server.models import User
from support import login
from sync.coverage import this_month
from sync.models import Area, Household, Submission
from sync.records import Conflict, Finding, Visit
from sync.rules import MONITORING_TYPES

VILLAGE_1, VILLAGE_7, TOWN_1 = "210504001001", "210504002002", "210504001"
MONTH = this_month()
TODAY = dt.date.fromisoformat(f"{MONTH}-01")
LAST_MONTH = TODAY - dt.timedelta(days=3)


def numbers_of(sessions, cadre: str, village: str) -> list[str]:
    with session_scope(sessions) as session:
        return sorted(session.scalars(select(Household.number).join(Area, Area.id == Household.area_id)
                                      .where(Household.cadre == cadre, Area.code == village)))


def add_visit(sessions, number: str, by: str, day: dt.date, verdict: str | None) -> None:
    """A visit row as the reconciler leaves it (what the homes and coverage count)."""
    with session_scope(sessions) as session:
        household = session.scalar(select(Household).where(Household.number == number))
        submitter = session.scalar(select(User.id).where(User.username == by))
        form = session.scalar(select(Form).where(Form.xml_form_id == "household_visit"))
        count = session.scalar(select(Submission.id).order_by(Submission.id.desc()).limit(1)) or 0
        submission = Submission(form_id=form.id, form_version_id=form.current_version_id,
                                instance_id=f"uuid:home-{count + 1}", xml=b"<data/>", xml_sha256="0" * 64,
                                household_number=number, area_id=household.area_id, submitter_id=submitter)
        session.add(submission)
        session.flush()
        session.add(Visit(submission_id=submission.id, household_id=household.id, area_id=household.area_id,
                          submitter_id=submitter, visit_date=day, month=f"{day:%Y-%m}", verdict=verdict,
                          reasons=[]))


def add_finding(sessions, number: str, code: str, details: dict | None = None) -> None:
    with session_scope(sessions) as session:
        household = session.scalar(select(Household).where(Household.number == number))
        session.add(Finding(household_id=household.id, area_id=household.area_id, kind="monitoring", code=code,
                            message_zh=code, message_en=code, details=details or {}))


def page_households(client, path="/") -> list[tuple[str, str]]:
    text = client.get(path).get_data(as_text=True)
    return re.findall(r'data-testid="my-household" data-number="([^"]+)" data-state="([^"]+)"', text)


def card(text: str, key: str) -> tuple[int, str | None]:
    """(the number, the list it opens) of a home page's card."""
    found = re.search(rf'data-testid="card-{key}" data-count="(\d+)">\s*(?:<a class="home-number" href="([^"]+)")?',
                      text)
    assert found, key
    return int(found.group(1)), html.unescape(found.group(2)) if found.group(2) else None


# ---- a cadre's home ---------------------------------------------------------------------------------------------

def test_a_cadre_sees_only_the_households_paired_to_them(client, sessions, sample_district):
    mine = numbers_of(sessions, "cadre001", VILLAGE_1)
    others = numbers_of(sessions, "cadre007", VILLAGE_1) + numbers_of(sessions, "cadre004", VILLAGE_1)
    assert len(mine) == 7 and others  # the same village has other cadres' households
    login(client, "cadre001")
    listed = [number for number, _state in page_households(client)]
    assert sorted(listed) == mine
    # paired to cadre001 too, but in a village outside cadre001's areas: not theirs to see
    assert not set(listed) & set(numbers_of(sessions, "cadre001", VILLAGE_7))
    text = client.get("/").get_data(as_text=True)
    assert card(text, "mine")[0] == 7
    # the number opens the household list filtered by the cadre, which shows the same count
    assert "共 7 户" in client.get(card(text, "mine")[1]).get_data(as_text=True)


def test_not_visited_this_month_counts_only_the_cadres_own_visits_and_no_attempts(client, sessions, sample_district):
    h = numbers_of(sessions, "cadre001", VILLAGE_1)
    add_visit(sessions, h[0], "cadre001", TODAY, "verified")
    add_visit(sessions, h[1], "cadre001", TODAY, "questionable")
    add_visit(sessions, h[2], "cadre001", TODAY, "attempt")          # nobody home: not a visit
    add_visit(sessions, h[3], "cadre007", TODAY, "verified")         # somebody else's visit: not the cadre's duty
    add_visit(sessions, h[4], "cadre001", LAST_MONTH, "verified")    # last month
    login(client, "cadre001")
    states = dict(page_households(client))
    assert states == {h[0]: "verified", h[1]: "questionable", h[2]: "attempted", h[3]: "not_visited",
                      h[4]: "not_visited", h[5]: "not_visited", h[6]: "not_visited"}
    # who needs a visit first: never visited, then the longest since the last visit; then questionable, verified
    order = [number for number, _state in page_households(client)]
    assert order[:2] == sorted([h[5], h[6]]) and order[-2:] == [h[1], h[0]]
    assert order[2:5] == [h[4], h[2], h[3]] or order[2:5] == [h[4], h[3], h[2]]
    text = client.get("/").get_data(as_text=True)
    count, href = card(text, "to-visit")
    assert count == 5
    listed = client.get(href).get_data(as_text=True)
    assert "共 5 户" in listed and all(n in listed for n in (h[2], h[3], h[4], h[5], h[6]))


def test_each_household_shows_its_last_visit_with_verdict_and_visitor(client, sessions, sample_district):
    h = numbers_of(sessions, "cadre001", VILLAGE_1)
    add_visit(sessions, h[0], "cadre001", LAST_MONTH, "verified")
    add_visit(sessions, h[0], "cadre007", TODAY, "attempt")
    login(client, "cadre001")
    text = client.get("/").get_data(as_text=True)
    block = re.search(rf'data-number="{h[0]}".*?data-testid="last-visit">(.*?)</div>', text, re.S).group(1)
    assert f"上次走访 {TODAY.isoformat()}" in block and "走访未遇" in block and "cadre007" in block
    never = re.search(rf'data-number="{h[1]}".*?data-testid="last-visit">(.*?)</div>', text, re.S).group(1)
    assert "从未走访" in never


def test_a_cadre_finds_a_household_by_number_or_name(client, sessions, sample_district):
    h = numbers_of(sessions, "cadre001", VILLAGE_1)
    with session_scope(sessions) as session:
        head = session.scalar(select(Household.head_name).where(Household.number == h[3]))
    login(client, "cadre001")
    assert [n for n, _s in page_households(client, f"/?q={h[2]}")] == [h[2]]
    assert h[3] in [n for n, _s in page_households(client, f"/?q={head[1:]}")]
    assert page_households(client, "/?q=nobody-by-this-name") == []
    # a household of another cadre is not found by its number either
    other = numbers_of(sessions, "cadre007", VILLAGE_1)[0]
    assert page_households(client, f"/?q={other}") == []


def test_the_cadres_home_says_how_to_open_the_form_in_collect(client, sample_district):
    login(client, "cadre001")
    text = client.get("/").get_data(as_text=True)
    assert "不能从网页直接打开" in text and "入户走访" in text
    assert 'href="/users/' in text  # the phone set-up page


# ---- a supervisor's home ----------------------------------------------------------------------------------------

@pytest.fixture
def town_work(sessions, sample_district):
    """Work of this month in town 1 (which town1 supervises) and the same kinds of work in town 2, which must never
    be counted for town1."""
    town1 = numbers_of(sessions, "cadre001", VILLAGE_1) + numbers_of(sessions, "cadre007", VILLAGE_1)
    town2 = numbers_of(sessions, "cadre001", VILLAGE_7)
    for number in town1[:4]:
        add_visit(sessions, number, "cadre001", TODAY, "verified")
    add_visit(sessions, town1[4], "cadre001", TODAY, "questionable")
    add_visit(sessions, town1[5], "cadre001", TODAY, "no_evidence")
    add_visit(sessions, town1[5], "cadre007", TODAY, "questionable")
    for number in town2[:3]:
        add_visit(sessions, number, "cadre001", TODAY, "questionable")
    add_finding(sessions, town1[0], "dangerous_house", {"grade": "C", "renovation_state": "building"})
    add_finding(sessions, town1[1], "dangerous_house", {"grade": "D", "renovation_state": ""})
    add_finding(sessions, town1[2], "screening_income")
    add_finding(sessions, town1[2], "screening_dibao")   # one household, on the list once
    add_finding(sessions, town1[3], "screening_dibao")
    for number in town2[:2]:
        add_finding(sessions, number, "dangerous_house", {"grade": "C", "renovation_state": "planned"})
        add_finding(sessions, number, "screening_income")
    with session_scope(sessions) as session:
        types = {town1[0]: "脱贫不稳定户", town1[1]: "边缘易致贫户", town1[2]: "边缘易致贫户", town2[0]: "突发严重困难户"}
        for number, kind in types.items():
            household = session.scalar(select(Household).where(Household.number == number))
            household.monitoring_type = kind
        for index, number in enumerate((town1[6], town2[1])):
            household = session.scalar(select(Household).where(Household.number == number))
            session.add(Conflict(key=f"home{index}", household_id=household.id, area_id=household.area_id,
                                 field="phone", base_version=1, state="open",
                                 entries=[{"value": "1"}, {"value": "2"}], current="1"))
    with session_scope(sessions) as session:
        path = session.scalar(select(Area.path).where(Area.code == TOWN_1))
        in_town = select(Household.monitoring_type).join(Area, Area.id == Household.area_id).where(
            Area.path.startswith(path))
        kinds = session.scalars(in_town).all()
    # counted straight from the table: the sample roster has 监测户 of its own
    return {"assigned": len(kinds), "monitoring": [kinds.count(kind) for kind in MONITORING_TYPES]}


def test_the_supervisors_numbers_are_their_areas_only(client, town_work):
    login(client, "town1")
    text = client.get("/").get_data(as_text=True)
    coverage = re.search(r'data-testid="home-coverage" data-assigned="(\d+)" data-verified="(\d+)"\s+'
                         r'data-questionable="(\d+)" data-not-visited="(\d+)"', text).groups()
    assigned = town_work["assigned"]
    assert [int(n) for n in coverage] == [assigned, 4, 2, assigned - 6]
    assert card(text, "not-visited")[0] == assigned - 6
    assert card(text, "questionable-visits")[0] == 3     # town 2's three are not counted
    assert card(text, "conflicts")[0] == 1
    assert card(text, "dangerous-houses")[0] == 2
    assert card(text, "screening")[0] == 2
    assert card(text, "monitoring")[0] == sum(town_work["monitoring"])
    parts = re.search(r'data-testid="card-monitoring".*?</ul>', text, re.S).group(0)
    assert re.findall(r'data-testid="card-part" data-count="(\d+)"', parts) == [str(n) for n in town_work["monitoring"]]
    stages = re.search(r'data-testid="card-dangerous-houses".*?</ul>', text, re.S).group(0)
    assert "在建" in stages and "未开始" in stages and "计划" not in stages


def test_every_number_on_the_supervisors_home_opens_a_list_with_the_same_count(client, town_work):
    login(client, "town1")
    text = client.get("/").get_data(as_text=True)
    counted = {"not-visited": r"共 (\d+) 户", "questionable-visits": r"共 (\d+) 次存疑走访",
               "conflicts": r"共 (\d+) 个待处理的冲突", "dangerous-houses": r"共 (\d+) 户", "screening": r"共 (\d+) 户"}
    for key, pattern in counted.items():
        count, href = card(text, key)
        listed = client.get(href)
        assert listed.status_code == 200, key
        assert int(re.search(pattern, listed.get_data(as_text=True)).group(1)) == count, key
    parts = re.search(r'data-testid="card-monitoring".*?</ul>', text, re.S).group(0)
    for count, href in re.findall(r'data-testid="card-part" data-count="(\d+)">\s*<a href="([^"]+)"', parts):
        listed = client.get(html.unescape(href)).get_data(as_text=True)
        assert re.search(r"共 (\d+) 户", listed).group(1) == count


def test_a_town_supervisor_sees_each_village_worst_first(client, town_work):
    login(client, "town1")
    text = client.get("/").get_data(as_text=True)
    rows = re.findall(r'data-testid="area-row" data-key="(\d+)" data-pct="([\d.]*)" data-not-visited="(\d+)"', text)
    assert {key for key, _p, _n in rows} == {VILLAGE_1, "210504001002"}
    pcts = [float(p) for _k, p, _n in rows if p]
    assert pcts == sorted(pcts) and rows[0][0] == "210504001002"  # nobody visited there: 0 % first


def test_an_admin_gets_the_supervisors_home_for_everything(client, town_work, admin):
    login(client, "admin")
    text = client.get("/").get_data(as_text=True)
    assert card(text, "questionable-visits")[0] == 6
    assert card(text, "conflicts")[0] == 2
    assert card(text, "dangerous-houses")[0] == 4
    assert "已发布的表单" in text


def test_the_homes_are_in_english_on_request(client, town_work):
    login(client, "town1")
    assert "Questionable visits" in client.get("/?lang=en").get_data(as_text=True)
    login(client, "cadre001")
    english = client.get("/?lang=en").get_data(as_text=True)
    assert "Not visited this month" in english and "本月未走访" not in english


def test_each_household_links_to_the_web_form_with_the_household_chosen(client, sessions, sample_district):
    login(client, "cadre001")
    text = client.get("/").get_data(as_text=True)
    links = re.findall(r'data-testid="fill-form" href="([^"]+)"|href="([^"]+)" data-testid="fill-form"', text)
    hrefs = sorted(html.unescape(a or b) for a, b in links)
    assert hrefs == sorted(f"/fill/household_visit?household={n}" for n in numbers_of(sessions, "cadre001", VILLAGE_1))
    assert all(client.get(href).status_code == 200 for href in hrefs[:2])  # the web form of issue 20 opens


def test_a_village_supervisor_sees_its_cadres_each_opening_their_own_list(client, make_user, town_work,
                                                                          sample_district):
    make_user("village1", "supervisor", (sample_district["codes"][VILLAGE_1],))
    login(client, "village1")
    text = client.get("/").get_data(as_text=True)
    rows = re.findall(r'data-testid="area-row" data-key="([^"]+)".*?<a href="([^"]+)"', text, re.S)
    assert {key for key, _href in rows} == {"cadre001", "cadre004", "cadre007"}
    for key, href in rows:
        listed = client.get(html.unescape(href))
        assert listed.status_code == 200 and f"cadre={key}" in html.unescape(href)
