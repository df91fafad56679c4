"""The coverage page: the table's headers, the full words on a wide screen, short ones a phone shows instead (the
CSS picks one; tests/browser checks that the table then fits a 390 px phone); and the rows by cadre, which the page
and the API show exactly as a direct count over the visits gives them."""
import collections
import datetime as dt
import random
import re

import pytest
from sqlalchemy import select

from forms.models import Form
from server.db import session_scope
from server.models import User
from support import login
from sync.coverage import NO_CADRE
from sync.models import Household, Submission
from sync.records import Visit


def header(html, column):
    """The long and the short text of the table's header cell number `column`."""
    cells = re.findall(r'<th scope="col"[^>]*>(.*?)</th>', re.search(r"<thead>(.*?)</thead>", html, re.S).group(1),
                       re.S)
    long_, short = (re.search(rf'class="cov-{kind}">([^<]*)<', cells[column]) for kind in ("long", "short"))
    return long_ and long_.group(1), short and short.group(1)


def test_the_questionable_column_has_a_short_header_for_phones(client, sample_district):
    login(client, "town1")
    chinese = client.get("/coverage/").get_data(as_text=True)
    assert header(chinese, 3) == ("存疑", "存疑户")
    english = client.get("/coverage/?lang=en").get_data(as_text=True)
    assert header(english, 3) == ("Questionable", "In doubt")
    assert header(english, 5) == ("Previous 3 months (avg.)", "vs. 3 mo.")



# ---- the rows by cadre, against a direct count ------------------------------------------------------------------

COUNTY = "210504"
MONTH = "2026-03"
MONTHS = ("2025-12", "2026-01", "2026-02", "2026-03")
#: households of the sample roster left without a cadre ("-" row): one NULL, one empty
NO_CADRE_NUMBERS = ("2105040010010013", "2105040020010003")


@pytest.fixture
def generated(sessions, sample_district, make_user):
    """Every cadre of the roster with an account, two households without a cadre, and ~500 random visits over four
    months by the household's cadre, another cadre or a supervisor, with every verdict. Returns the visits as
    (household id, cadre, month, submitter, verdict) and the households as id → cadre key."""
    rng = random.Random(20260326)
    with session_scope(sessions) as session:
        for number, cadre in zip(NO_CADRE_NUMBERS, (None, "")):
            session.scalar(select(Household).where(Household.number == number)).cadre = cadre
        households = session.execute(select(Household.id, Household.number, Household.cadre,
                                            Household.area_id)).all()
    cadres = sorted({h.cadre for h in households if h.cadre})  # sample_district made their accounts
    headers = make_user("county", "supervisor", (sample_district["codes"][COUNTY],))
    submitters = cadres + ["town1"]
    visits = []
    with session_scope(sessions) as session:
        user_ids = {name: uid for name, uid in session.execute(select(User.username, User.id))}
        form = session.scalar(select(Form).where(Form.xml_form_id == "household_visit"))
        for h in households:
            for month in MONTHS:
                for _ in range(rng.choice((0, 0, 1, 1, 1, 2, 3))):
                    by = h.cadre if h.cadre and rng.random() < 0.7 else rng.choice(submitters)
                    verdict = rng.choice(("verified", "verified", "questionable", "no_evidence", None))
                    day = dt.date.fromisoformat(f"{month}-01") + dt.timedelta(days=rng.randrange(28))
                    submission = Submission(form_id=form.id, form_version_id=form.current_version_id,
                                            instance_id=f"uuid:generated-{len(visits)}", xml=b"<data/>",
                                            xml_sha256="0" * 64, household_number=h.number, area_id=h.area_id,
                                            submitter_id=user_ids[by])
                    session.add(submission)
                    session.flush()
                    session.add(Visit(submission_id=submission.id, household_id=h.id, area_id=h.area_id,
                                      submitter_id=user_ids[by], visit_date=day, month=month, verdict=verdict,
                                      reasons=[]))
                    visits.append((h.id, h.cadre or NO_CADRE, month, by, verdict))
    return {"visits": visits, "households": {h.id: h.cadre or NO_CADRE for h in households}, "headers": headers}


def expected_rows(generated) -> dict[str, dict]:
    """Each cadre's row counted straight from the visits: the households of the cadre visited in a month by the
    cadre's own account (by anyone for households without a cadre), and verified by such a visit."""
    assigned = collections.Counter(generated["households"].values())
    visited, verified = collections.defaultdict(set), collections.defaultdict(set)
    for household, cadre, month, by, verdict in generated["visits"]:
        if cadre in (NO_CADRE, by):
            visited[cadre, month].add(household)
            if verdict == "verified":
                verified[cadre, month].add(household)
    # the months compared are the previous three with any visit in the area, by anyone
    compared = [m for m in MONTHS[:-1] if any(month == m for _h, _c, month, _b, _v in generated["visits"])]
    rows = {}
    for cadre, n in assigned.items():
        good, seen = len(verified[cadre, MONTH]), len(visited[cadre, MONTH])
        pct = round(100.0 * good / n, 1)
        previous = round(sum(100.0 * len(verified[cadre, m]) / n for m in compared) / len(compared), 1)
        rows[cadre] = {"assigned": n, "verified": good, "questionable": seen - good, "not_visited": n - seen,
                       "verified_pct": pct, "previous_pct": previous, "change": round(pct - previous, 1)}
    return rows


def test_the_rows_by_cadre_are_a_direct_count_of_their_own_visits(client, generated):
    expected = expected_rows(generated)
    assert len(expected) == 10 and expected[NO_CADRE]["assigned"] == 2     # nine cadres and "-"
    data = client.get(f"/api/v1/coverage?month={MONTH}&by=cadre", headers=generated["headers"]).get_json()
    assert data["area"]["code"] == COUNTY and data["by"] == "cadre"
    api = {r["key"]: {k: r[k] for k in expected[NO_CADRE]} for r in data["rows"]}
    assert api == expected

    login(client, "county")
    html = client.get(f"/coverage/?month={MONTH}&by=cadre").get_data(as_text=True)
    rows = re.findall(r'<tr data-testid="coverage-row" data-kind="cadre" data-key="([^"]+)" data-assigned="(\d+)"\s+'
                      r'data-verified="(\d+)" data-questionable="(\d+)" data-not-visited="(\d+)">(.*?)</tr>', html, re.S)
    assert [key for key, *_ in rows] == [r["key"] for r in data["rows"]]
    for key, assigned, verified, questionable, not_visited, cells in rows:
        row = expected[key]
        assert (int(assigned), int(verified), int(questionable), int(not_visited)) == \
            (row["assigned"], row["verified"], row["questionable"], row["not_visited"])
        assert f'data-change="{row["change"]}"' in cells and f'{row["previous_pct"]}%</span>' in cells
        if row["change"] >= 0.5:
            assert f'title="比前三月平均高 {row["change"]} 个百分点"' in cells
        # every number opens the cadre's households in the county (with the state it counts)
        listing = f"/coverage/households?month={MONTH}&amp;area={COUNTY}&amp;cadre={key}"
        for testid, state in (("assigned", None), ("verified", "verified"), ("questionable", "questionable"),
                              ("not-visited", "not_visited")):
            href = listing + (f"&amp;state={state}" if state else "")
            assert re.search(rf'href="{re.escape(href)}"\s+data-testid="count-{testid}"', cells), (key, testid)
