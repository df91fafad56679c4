"""Visit coverage services (sync/coverage.py) on the sample district, with visits inserted as the reconciler writes
them: one Visit row per visit submission, with its date, submitter and evidence verdict.

Sample district: county 210504 › towns 210504001 (高峪街道), 210504002, 210504003 › two villages each, 113 households.
Village 210504001001 (高峪一村) has 19 households: cadre001 7, cadre007 6, cadre004 6; the town has 38.
"""
from __future__ import annotations

import datetime as dt
import itertools

import pytest
from sqlalchemy import select

from forms.models import Form
from server.db import session_scope
from server.errors import DomainError
from server.models import User
from sync.coverage import (NO_CADRE, coverage_for_month, coverage_households, coverage_trend, not_visited,
                           parse_month, shift_month, this_month)
from sync.models import Household, Submission
from sync.records import Visit

COUNTY, TOWN, VILLAGE, VILLAGE_2, OTHER_TOWN = "210504", "210504001", "210504001001", "210504001002", "210504002"
# households of village 210504001001 and their cadres
HAO_FU, LONG, HUANG = "2105040010010001", "2105040010010019", "2105040010010037"      # cadre001
YAN = "2105040010010007"                                                              # cadre007
KONG = "2105040010010013"                                                             # cadre004
DONG = "2105040010020002"                                                             # village 2, cadre002
MONTH = "2026-03"


@pytest.fixture
def district(sample_district, make_user):
    make_user("town2", "supervisor", (sample_district["codes"][OTHER_TOWN],))
    return sample_district


@pytest.fixture
def visit(sessions, district):
    """Insert a visit as the reconciler would: visit(number, "2026-03-05", "verified", by="cadre001")."""
    serial = itertools.count(1)

    def add(number: str, day: str, verdict: str = "verified", by: str = "cadre001") -> None:
        with session_scope(sessions) as session:
            household = session.scalar(select(Household).where(Household.number == number))
            submitter = session.scalar(select(User.id).where(User.username == by))
            form = session.scalar(select(Form).where(Form.xml_form_id == "household_visit"))
            submission = Submission(form_id=form.id, form_version_id=form.current_version_id,
                                    instance_id=f"uuid:coverage-{next(serial)}", xml=b"<data/>", xml_sha256="0" * 64,
                                    household_number=number, area_id=household.area_id, submitter_id=submitter)
            session.add(submission)
            session.flush()
            session.add(Visit(submission_id=submission.id, household_id=household.id, area_id=household.area_id,
                              submitter_id=submitter, visit_date=dt.date.fromisoformat(day), month=day[:7],
                              verdict=verdict, reasons=[] if verdict == "verified" else ["gps_far"]))
    return add


def ids(district, *codes: str) -> frozenset[int]:
    return frozenset(district["codes"][c] for c in codes)


def counts(row) -> tuple[int, int, int, int]:
    c = row.counts
    return c.assigned, c.verified, c.questionable, c.not_visited


def row(report, key):
    return next(r for r in report.rows if r.key == key)


# ---- months ---------------------------------------------------------------------------------------------------

def test_months_are_counted_across_years():
    assert shift_month("2026-01", -1) == "2025-12"
    assert shift_month("2025-11", 3) == "2026-02"
    assert parse_month("2026-03") - parse_month("2025-03") == 12


@pytest.mark.parametrize("bad", ["2026-13", "2026-3", "26-03", "2026/03", "", "2026-03-01"])
def test_a_malformed_month_is_a_problem(bad):
    with pytest.raises(DomainError) as raised:
        parse_month(bad)
    assert raised.value.kind == "invalid" and raised.value.code == "coverage.month"


def test_this_month_is_chinas_calendar_month():
    late_utc = dt.datetime(2026, 3, 31, 17, 0, tzinfo=dt.timezone.utc)  # 01:00 on 1 April in China
    assert this_month(late_utc) == "2026-04"


# ---- a household's state for a month --------------------------------------------------------------------------

def test_a_household_counts_once_with_its_best_verdict_of_the_month(district, visit, read):
    visit(HAO_FU, "2026-03-02", "questionable")
    visit(HAO_FU, "2026-03-20", "verified")       # the better one wins
    visit(LONG, "2026-03-03", "questionable")
    visit(LONG, "2026-03-09", "no_evidence")      # only doubtful visits: questionable, counted once
    visit(HUANG, "2026-02-27", "verified")        # last month's visit does not count for March
    visit(HUANG, "2026-04-01", "verified")        # nor next month's
    report = read(coverage_for_month, None, MONTH, area_code=VILLAGE)
    assert counts(report.total) == (19, 1, 1, 17)
    assert report.total.verified_pct == pytest.approx(5.3)


def test_visits_without_a_judged_verdict_count_as_visited_but_not_verified(district, visit, read):
    visit(HAO_FU, "2026-03-02", None)
    assert counts(read(coverage_for_month, None, MONTH, area_code=VILLAGE).total) == (19, 0, 1, 18)


def test_nobody_at_home_is_an_attempt_not_a_visit(district, visit, read):
    """DOMAIN.md Precisions: "A visit may also find nobody home (失联/不在家): that is recorded as such, without a
    family photo, and counts as an attempt, not a visit"."""
    visit(HAO_FU, "2026-03-02", "attempt")
    visit(LONG, "2026-03-02", "attempt")
    visit(LONG, "2026-03-20", "questionable")      # came back and met the family: a visit
    visit(HUANG, "2026-02-10", "verified")
    visit(HUANG, "2026-03-05", "attempt")
    report = read(coverage_for_month, None, MONTH, area_code=VILLAGE)
    assert counts(report.total) == (19, 0, 1, 18)
    assert counts(row(read(coverage_for_month, None, MONTH, area_code=VILLAGE, by="cadre"), "cadre001")) == (7, 0, 1, 6)
    missed = read(not_visited, None, MONTH, area_code=VILLAGE, cadre="cadre001")
    states = {h.number: h.state for h in missed.households}
    assert missed.total == 6 and states[HAO_FU] == states[HUANG] == "attempted" and LONG not in states
    attempted = read(coverage_households, None, MONTH, area_code=VILLAGE, state="attempted")
    assert sorted(h.number for h in attempted.households) == sorted([HAO_FU, HUANG])
    # the last visit is the last real one
    assert next(h for h in missed.households if h.number == HUANG).last_visit == dt.date(2026, 2, 10)
    questionable = read(coverage_households, None, MONTH, area_code=VILLAGE, state="questionable")
    assert [h.number for h in questionable.households] == [LONG]


# ---- rows: towns, villages, cadres ----------------------------------------------------------------------------

def test_county_rows_are_towns_and_town_rows_are_villages(district, visit, read):
    visit(HAO_FU, "2026-03-02")
    visit(DONG, "2026-03-02", "questionable", by="cadre002")
    county = read(coverage_for_month, None, MONTH)           # an admin with one county looks at that county
    assert county.area.code == COUNTY and county.by == "area"
    assert [r.key for r in county.rows] == [TOWN, OTHER_TOWN, "210504003"]
    assert counts(row(county, TOWN)) == (38, 1, 1, 36)
    assert counts(row(county, OTHER_TOWN)) == (38, 0, 0, 38)
    assert counts(county.total) == (113, 1, 1, 111)
    town = read(coverage_for_month, None, MONTH, area_code=TOWN)
    assert [(r.key, r.name, r.level) for r in town.rows] == [(VILLAGE, "高峪一村", "village"),
                                                             (VILLAGE_2, "高峪二村", "village")]
    assert counts(row(town, VILLAGE)) == (19, 1, 0, 18)
    assert counts(row(town, VILLAGE_2)) == (19, 0, 1, 18)
    assert [a.code for a in town.breadcrumb] == [COUNTY, TOWN]


def test_village_rows_are_cadres_counting_only_their_own_visits(district, visit, read):
    visit(HAO_FU, "2026-03-02", by="cadre001")
    visit(LONG, "2026-03-05", by="town1")         # somebody else visited cadre001's household
    visit(YAN, "2026-03-06", "questionable", by="cadre001")   # cadre001 visited cadre007's household
    report = read(coverage_for_month, None, MONTH, area_code=VILLAGE)
    assert report.by == "cadre"
    assert [(r.kind, r.key) for r in report.rows] == [("cadre", "cadre001"), ("cadre", "cadre004"),
                                                      ("cadre", "cadre007")]
    assert counts(row(report, "cadre001")) == (7, 1, 0, 6)
    assert counts(row(report, "cadre007")) == (6, 0, 0, 6)
    assert row(report, "cadre001").name == "cadre001"          # the account's display name
    assert row(report, "cadre004").name == "cadre004"          # no account: the user name
    assert counts(report.total) == (19, 2, 1, 16)              # the village counts everybody's visits


def test_cadre_rows_can_be_asked_for_at_any_level(district, visit, read):
    visit(HAO_FU, "2026-03-02")
    report = read(coverage_for_month, None, MONTH, area_code=TOWN, by="cadre")
    assert report.by == "cadre"
    # town 1: cadre001, 004, 007 in village 1; 002, 005, 008 in village 2
    assert [r.key for r in report.rows] == ["cadre001", "cadre002", "cadre004", "cadre005", "cadre007", "cadre008"]
    assert counts(row(report, "cadre001")) == (7, 1, 0, 6)
    with pytest.raises(DomainError) as raised:
        read(coverage_for_month, None, MONTH, area_code=TOWN, by="village")
    assert raised.value.kind == "invalid"


def test_households_without_a_cadre_get_a_row_of_their_own(district, visit, read, sessions):
    with session_scope(sessions) as session:
        session.scalar(select(Household).where(Household.number == KONG)).cadre = None
    visit(KONG, "2026-03-04", by="town1")
    report = read(coverage_for_month, None, MONTH, area_code=VILLAGE)
    assert report.rows[-1].key == NO_CADRE
    assert counts(report.rows[-1]) == (1, 1, 0, 0)     # nobody else to attribute it to: every visit counts
    assert counts(row(report, "cadre004")) == (5, 0, 0, 5)


# ---- comparison and trend -------------------------------------------------------------------------------------

def test_the_month_is_compared_with_the_average_of_the_previous_three(district, visit, read):
    # village 1 has 19 households: 2, 4 and 6 verified in Dec, Jan, Feb → 10.5%, 21.1%, 31.6% → 21.1% on average
    numbers = [HAO_FU, LONG, HUANG, YAN, KONG, "2105040010010025"]
    for month, n in (("2025-12", 2), ("2026-01", 4), ("2026-02", 6)):
        for number in numbers[:n]:
            visit(number, f"{month}-10")
    for number in numbers[:5]:
        visit(number, "2026-03-10")
    report = read(coverage_for_month, None, MONTH, area_code=TOWN)
    assert report.compared_months == ["2025-12", "2026-01", "2026-02"]
    village = row(report, VILLAGE)
    assert village.verified_pct == pytest.approx(26.3)
    assert village.previous_pct == pytest.approx(21.1)
    assert village.change == pytest.approx(5.2)
    other = row(report, VILLAGE_2)
    assert (other.previous_pct, other.change) == (0.0, 0.0)   # compared months had visits elsewhere: 0% here


def test_months_without_any_visit_are_left_out_of_the_comparison(district, visit, read):
    visit(HAO_FU, "2026-01-10")                               # nothing in December or February
    visit(HAO_FU, "2026-03-10")
    report = read(coverage_for_month, None, MONTH, area_code=VILLAGE)
    assert report.compared_months == ["2026-01"]
    assert report.total.previous_pct == pytest.approx(5.3)
    first = read(coverage_for_month, None, "2026-01", area_code=VILLAGE)
    assert first.compared_months == [] and first.total.previous_pct is None and first.total.change is None


def test_the_trend_covers_six_months_ending_with_the_month(district, visit, read):
    visit(HAO_FU, "2025-09-30")       # the seventh month back: outside
    visit(HAO_FU, "2025-11-30", "questionable")
    visit(LONG, "2026-02-15")
    visit(HUANG, "2026-03-01")
    trend = read(coverage_for_month, None, MONTH, area_code=VILLAGE).trend
    assert [p.month for p in trend] == ["2025-10", "2025-11", "2025-12", "2026-01", "2026-02", "2026-03"]
    assert [(p.counts.verified, p.counts.questionable) for p in trend] == [(0, 0), (0, 1), (0, 0), (0, 0), (1, 0),
                                                                          (1, 0)]
    assert trend == read(coverage_trend, None, MONTH, area_code=VILLAGE)


# ---- scope ----------------------------------------------------------------------------------------------------

def test_an_area_outside_the_callers_areas_is_not_found(district, read):
    with pytest.raises(DomainError) as raised:
        read(coverage_for_month, ids(district, VILLAGE_2), MONTH, area_code=VILLAGE)
    assert (raised.value.kind, raised.value.code) == ("not_found", "area.not_found")
    with pytest.raises(DomainError) as unknown:
        read(not_visited, None, MONTH, area_code="999999")
    assert unknown.value.kind == "not_found"


def test_a_caller_sees_their_own_area_and_only_the_breadcrumb_they_may_open(district, visit, read, sessions):
    from server.scope import scope_for
    with session_scope(sessions) as session:
        scope = scope_for(session, session.scalar(select(User).where(User.username == "town1"))).area_ids
    visit(DONG, "2026-03-02", by="cadre002")
    report = read(coverage_for_month, scope, MONTH)
    assert report.area.code == TOWN and [r.key for r in report.rows] == [VILLAGE, VILLAGE_2]
    assert counts(report.total) == (38, 1, 0, 37)
    village = read(coverage_for_month, scope, MONTH, area_code=VILLAGE)
    assert [a.code for a in village.breadcrumb] == [TOWN, VILLAGE]    # not the county: town1 may not open it


def test_a_caller_with_several_areas_gets_one_row_per_area(district, read):
    report = read(coverage_for_month, ids(district, VILLAGE, "210504003002"), MONTH)
    assert report.area is None and report.breadcrumb == []
    assert [(r.key, r.counts.assigned) for r in report.rows] == [(VILLAGE, 19), ("210504003002", 18)]
    assert report.total.counts.assigned == 37


def test_a_caller_without_areas_sees_nothing(district, read):
    report = read(coverage_for_month, frozenset(), MONTH)
    assert report.rows == [] and report.total.counts.assigned == 0 and report.total.verified_pct is None
    assert read(not_visited, frozenset(), MONTH).total == 0


# ---- the households behind the numbers ------------------------------------------------------------------------

def test_not_visited_lists_households_by_cadre_with_their_last_visit(district, visit, read):
    visit(HAO_FU, "2026-03-02")
    visit(LONG, "2026-01-20")
    visit(LONG, "2026-02-11", "questionable")
    visit(LONG, "2026-04-02")                          # after the month: not its "last visit" in March
    listing = read(not_visited, None, MONTH, area_code=VILLAGE)
    assert listing.total == 18
    groups = listing.by_cadre()
    assert [(g.cadre, len(g.households)) for g in groups] == [("cadre001", 6), ("cadre004", 6), ("cadre007", 6)]
    long = next(h for h in groups[0].households if h.number == LONG)
    assert (long.head_name, long.village_code, long.village_name) == ("龙立长", VILLAGE, "高峪一村")
    assert long.last_visit == dt.date(2026, 2, 11) and long.state == "not_visited"
    assert HAO_FU not in [h.number for g in groups for h in g.households]


def test_a_cadres_list_counts_only_their_own_visits(district, visit, read):
    visit(HAO_FU, "2026-03-02", by="town1")
    visit(LONG, "2026-03-02", by="cadre001")
    mine = read(not_visited, None, MONTH, area_code=VILLAGE, cadre="cadre001")
    assert mine.total == 6 and HAO_FU in [h.number for h in mine.households]
    everyone = read(not_visited, None, MONTH, area_code=VILLAGE)
    assert HAO_FU not in [h.number for h in everyone.households]


def test_the_lists_follow_the_numbers_of_the_rows(district, visit, read):
    visit(HAO_FU, "2026-03-02")
    visit(YAN, "2026-03-03", "questionable", by="cadre001")
    visit(KONG, "2026-03-04", "no_evidence", by="town1")
    report = read(coverage_for_month, None, MONTH, area_code=TOWN)
    village = row(report, VILLAGE)
    for state, expected in (("verified", village.counts.verified), ("questionable", village.counts.questionable),
                            ("not_visited", village.counts.not_visited), (None, village.counts.assigned)):
        assert read(coverage_households, None, MONTH, area_code=VILLAGE, state=state).total == expected
    questionable = read(coverage_households, None, MONTH, area_code=VILLAGE, state="questionable")
    assert sorted(h.number for h in questionable.households) == [YAN, KONG]
    everything = read(coverage_households, None, MONTH, area_code=VILLAGE)
    assert {h.number: h.state for h in everything.households}[HAO_FU] == "verified"
    # the cadre row and the cadre's list agree
    cadre_rows = read(coverage_for_month, None, MONTH, area_code=VILLAGE)
    for cadre_row in cadre_rows.rows:
        for state, expected in (("verified", cadre_row.counts.verified),
                                ("questionable", cadre_row.counts.questionable),
                                ("not_visited", cadre_row.counts.not_visited)):
            listing = read(coverage_households, None, MONTH, area_code=VILLAGE, cadre=cadre_row.key, state=state)
            assert listing.total == expected, (cadre_row.key, state)


def test_lists_are_paged_in_cadre_village_number_order(district, read):
    first = read(coverage_households, None, MONTH, area_code=TOWN, limit=10)
    second = read(coverage_households, None, MONTH, area_code=TOWN, limit=10, offset=10)
    assert first.total == second.total == 38
    numbers = [h.number for h in first.households + second.households]
    assert len(set(numbers)) == 20
    keys = [(h.cadre, h.village_code, h.number) for h in first.households + second.households]
    assert keys == sorted(keys)


def test_an_unknown_state_is_a_problem(district, read):
    with pytest.raises(DomainError) as raised:
        read(coverage_households, None, MONTH, state="visited")
    assert raised.value.kind == "invalid"
