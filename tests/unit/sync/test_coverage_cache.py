"""The coverage cache (sync/coverage.py): per-area, per-month counts kept in `coverage_months`, marked stale by the
reconciler (`mark_stale`) and counted again by the worker (`refill_stale`); requests count stale months live.

Visits are written here as the reconciler writes them (sync/reconcile.py `_write`): a household's visits are deleted
with RETURNING and inserted again, and `mark_stale` is given both in the same transaction. Reconciling real
submissions is covered in tests/api/test_coverage_api.py.

Sample district: county 210504 › towns 210504001, 210504002, 210504003 › two villages each, 113 households.
"""
from __future__ import annotations

import datetime as dt
import itertools
import os
import random

import pytest
from sqlalchemy import delete, func, select, text

import sync.coverage
from forms.models import Form
from server.db import session_scope
from server.models import User
from sync.coverage import (clear_cache, count_uncounted_once, coverage_for_month, coverage_trend, mark_stale,
                           mark_uncounted, month_name, parse_month, refill_stale, visit_count_statement, visit_counts)
from sync.models import Area, Household, Submission
from sync.records import CacheFormat, CoverageMonth, CoverageStale, Visit

COUNTY, TOWN, VILLAGE, VILLAGE_2 = "210504", "210504001", "210504001001", "210504001002"
HAO_FU, LONG = "2105040010010001", "2105040010010019"        # village 210504001001
DONG = "2105040010020002"                                     # village 210504001002
MONTH = "2026-03"
MONTHS = [month_name(n) for n in range(parse_month(MONTH) - 5, parse_month(MONTH) + 1)]
POSTGRES = bool(os.environ.get("ZOUFANG_TEST_DATABASE_URL"))


@pytest.fixture
def rewrite(sessions, sample_district):
    """rewrite(number, [(day, verdict, by), …]): replace a household's visits as the reconciler does, in a
    transaction of its own (or in `session` when given, left open)."""
    serial = itertools.count(1)

    def write(session, number: str, visits: list[tuple[str, str | None, str]], area_code: str | None = None):
        household = session.scalar(select(Household).where(Household.number == number))
        if area_code:   # the roster moved the household: its visits follow on the next reconcile
            household.area_id = session.scalar(select(Area.id).where(Area.code == area_code))
        before = session.execute(delete(Visit).where(Visit.household_id == household.id)
                                 .returning(Visit.area_id, Visit.month, Visit.household_id, Visit.verdict)).all()
        form = session.scalar(select(Form).where(Form.xml_form_id == "household_visit"))
        after = []
        for day, verdict, by in visits:
            submitter = session.scalar(select(User.id).where(User.username == by))
            submission = Submission(form_id=form.id, form_version_id=form.current_version_id,
                                    instance_id=f"uuid:cache-{next(serial)}", xml=b"<data/>", xml_sha256="0" * 64,
                                    household_number=number, area_id=household.area_id, submitter_id=submitter)
            session.add(submission)
            session.flush()
            session.add(Visit(submission_id=submission.id, household_id=household.id, area_id=household.area_id,
                              submitter_id=submitter, visit_date=dt.date.fromisoformat(day), month=day[:7],
                              verdict=verdict, reasons=[]))
            after.append((household.area_id, day[:7], household.id, verdict))
        session.flush()
        mark_stale(session, before, after)

    def call(number: str, visits: list[tuple[str, str | None, str]], session=None, area_code: str | None = None):
        if session is not None:
            return write(session, number, visits, area_code)
        with session_scope(sessions) as own:
            write(own, number, visits, area_code)
    return call


def all_area_ids(sessions) -> list[int]:
    with session_scope(sessions) as session:
        return sorted(session.scalars(select(Area.id)))


def live(sessions, area_ids, months):
    """What counting `visits` answers, with the pairs without a visit as zeros (as the cache keeps them)."""
    with session_scope(sessions) as session:
        counted = {(a, m): (visited, verified) for a, m, visited, verified
                   in session.execute(visit_count_statement(area_ids, min(months), max(months)))}
    return {(a, m): counted.get((a, m), (0, 0)) for a in area_ids for m in months}


def stale_marks(sessions) -> list[tuple[str, str]]:
    with session_scope(sessions) as session:
        return sorted((code, month) for code, month in session.execute(
            select(Area.code, CoverageStale.month).join(Area, Area.id == CoverageStale.area_id)))


def reports(read):
    """Everything the area counts feed, for the comparison with and without the cache."""
    return ([read(coverage_for_month, None, month, area_code=code, by=by)
             for month in (MONTH, "2026-01", "2026-04") for code in (None, TOWN, VILLAGE) for by in (None, "area")]
            + [read(coverage_trend, None, MONTH, area_code=COUNTY)])


# ---- the numbers are the same with and without the cache ------------------------------------------------------

def test_reports_are_identical_with_a_cold_cache_a_warm_one_and_after_changes(sessions, rewrite, read):
    rng = random.Random(20260301)
    with session_scope(sessions) as session:
        numbers = list(session.scalars(select(Household.number).order_by(Household.number)))
    users = ["cadre001", "cadre002", "town1", "cadre007"]
    verdicts = ["verified", "questionable", "no_evidence", None]

    def random_visits():
        return [(f"{rng.choice(MONTHS + ['2026-04'])}-{rng.randint(1, 28):02d}", rng.choice(verdicts),
                 rng.choice(users)) for _ in range(rng.choice((0, 1, 1, 2, 3)))]

    for number in numbers:
        rewrite(number, random_visits())
    with session_scope(sessions) as session:
        clear_cache(session)
    cold = reports(read)
    read(mark_uncounted)
    read(refill_stale)
    assert reports(read) == cold          # warm: answered from the cache
    area_ids = all_area_ids(sessions)
    for step in range(6):                 # the reconciler changes households; every answer follows at once
        for number in rng.sample(numbers, 8):
            rewrite(number, random_visits())
        stale = reports(read)
        assert read(visit_counts, area_ids, MONTHS) == live(sessions, area_ids, MONTHS), step
        read(refill_stale)
        assert reports(read) == stale, step
        with session_scope(sessions) as session:
            clear_cache(session)
        assert reports(read) == stale, step


def test_a_refill_completes_the_marked_month_and_a_request_then_reads_it_without_counting(sessions, rewrite, read,
                                                                                         monkeypatch):
    rewrite(HAO_FU, [("2026-02-03", "verified", "cadre001")])
    area_ids = all_area_ids(sessions)
    first = read(visit_counts, area_ids, ["2026-02"])
    assert read(refill_stale) == 1
    with session_scope(sessions) as session:
        assert session.scalar(select(func.count()).select_from(CoverageMonth)) == len(area_ids)

    def no_count(*_args):
        raise AssertionError("a warm cache was counted again")
    monkeypatch.setattr(sync.coverage, "visit_count_statement", no_count)
    assert read(visit_counts, area_ids, ["2026-02"]) == first


# ---- what marks a month stale ---------------------------------------------------------------------------------

def test_a_first_visit_marks_its_village_and_month(sessions, rewrite):
    rewrite(HAO_FU, [("2026-02-03", "questionable", "cadre001")])
    assert stale_marks(sessions) == [(VILLAGE, "2026-02")]


@pytest.mark.parametrize("visits, marked", [
    ([("2026-02-03", "questionable", "cadre001"), ("2026-02-20", "questionable", "town1")], []),  # a second visit
    ([("2026-02-03", "questionable", "town1")], []),                       # another submitter: not an area count
    ([("2026-02-03", "verified", "cadre001")], [(VILLAGE, "2026-02")]),    # now verified
    ([], [(VILLAGE, "2026-02")]),                                          # the visit went away
    ([("2026-03-03", "questionable", "cadre001")], [(VILLAGE, "2026-02"), (VILLAGE, "2026-03")]),  # moved month
])
def test_only_a_change_of_the_households_state_in_a_month_marks_it(sessions, rewrite, visits, marked):
    rewrite(HAO_FU, [("2026-02-03", "questionable", "cadre001")])
    with session_scope(sessions) as session:
        session.execute(delete(CoverageStale))
    rewrite(HAO_FU, visits)
    assert stale_marks(sessions) == marked


def test_a_household_moved_to_another_village_marks_both(sessions, rewrite):
    rewrite(HAO_FU, [("2026-02-03", "verified", "cadre001")])
    with session_scope(sessions) as session:
        session.execute(delete(CoverageStale))
    rewrite(HAO_FU, [("2026-02-03", "verified", "cadre001")], area_code=VILLAGE_2)
    assert stale_marks(sessions) == [(VILLAGE, "2026-02"), (VILLAGE_2, "2026-02")]


def test_visits_without_a_date_mark_nothing(sessions):
    with session_scope(sessions) as session:
        mark_stale(session, [], [(1, None, 1, "verified")])
    assert stale_marks(sessions) == []


# ---- filling ----------------------------------------------------------------------------------------------------

def test_a_request_counts_stale_months_live_and_the_refill_takes_every_mark(sessions, rewrite, read):
    village = read(coverage_for_month, None, MONTH, area_code=VILLAGE)
    read(mark_uncounted)
    read(refill_stale)
    rewrite(HAO_FU, [("2026-02-03", "verified", "cadre001")])
    rewrite(DONG, [("2026-02-03", "verified", "cadre002")])
    rewrite(LONG, [("2025-01-03", "verified", "cadre001")])                # a month nobody looked at
    assert stale_marks(sessions) == [(VILLAGE, "2025-01"), (VILLAGE, "2026-02"), (VILLAGE_2, "2026-02")]
    again = read(coverage_for_month, None, MONTH, area_code=VILLAGE)
    assert [p.counts.verified for p in again.trend] != [p.counts.verified for p in village.trend]
    assert again.trend[-2].counts.verified == 1
    assert len(stale_marks(sessions)) == 3                                 # the request wrote nothing
    assert read(refill_stale) == 3
    assert stale_marks(sessions) == []
    assert read(coverage_for_month, None, MONTH, area_code=VILLAGE) == again


def test_a_refill_without_marks_counts_nothing(sessions, read):
    assert read(refill_stale) == 0


def test_clearing_the_cache_forgets_every_count_and_mark(sessions, rewrite, read):
    read(coverage_for_month, None, MONTH)
    rewrite(HAO_FU, [("2026-02-03", "verified", "cadre001")])
    with session_scope(sessions) as session:
        clear_cache(session)
        assert session.scalar(select(func.count()).select_from(CoverageMonth)) == 0
        assert session.scalar(select(func.count()).select_from(CoverageStale)) == 0
    assert read(coverage_for_month, None, MONTH, area_code=VILLAGE).trend[-2].counts.verified == 1


# ---- concurrency (PostgreSQL: reconcilers run side by side there) ---------------------------------------------

@pytest.mark.skipif(not POSTGRES, reason="concurrent writers need PostgreSQL")
def test_reconcilers_of_one_village_month_and_a_fill_never_wait_on_each_other(sessions, rewrite, read):
    rewrite(DONG, [("2026-02-03", "verified", "cadre002")])
    read(mark_uncounted)
    read(refill_stale)                                                     # the cache is warm
    first, second, filling = sessions(), sessions(), sessions()
    try:
        for session in (first, second, filling):
            session.execute(text("SET lock_timeout = '2s'"))
        # a fill in progress: it holds the fill lock and has rewritten the village's cached rows, uncommitted
        sync.coverage._lock_fills(filling)
        filling.execute(delete(CoverageMonth).where(CoverageMonth.area_id == select(Area.id).where(
            Area.code == VILLAGE).scalar_subquery()))
        # two reconcilers, two households of the same village and month, both uncommitted: none waits
        rewrite(HAO_FU, [("2026-02-03", "verified", "cadre001")], session=first)
        rewrite(LONG, [("2026-02-05", "verified", "cadre001")], session=second)
        first.commit()
        second.commit()
        filling.rollback()
    finally:
        for session in (first, second, filling):
            session.close()
    assert read(coverage_for_month, None, MONTH, area_code=VILLAGE).trend[-2].counts.verified == 2


@pytest.mark.skipif(not POSTGRES, reason="concurrent writers need PostgreSQL")
def test_a_visit_committed_while_a_request_counts_shows_on_the_next_request(sessions, rewrite, read):
    area_ids = all_area_ids(sessions)
    worker = sessions()
    try:
        rewrite(HAO_FU, [("2026-02-03", "verified", "cadre001")], session=worker)   # not committed yet
        during = read(visit_counts, area_ids, MONTHS)                              # a cold count without it
        worker.commit()
    finally:
        worker.close()
    assert sum(v for v, _ in during.values()) == 0                                 # the count could not see it
    after = read(visit_counts, area_ids, MONTHS)
    assert after == live(sessions, area_ids, MONTHS)
    assert sum(v for v, _ in after.values()) == 1


# ---- a starting worker reads every visit only after a change of the cache's format ----------------------------

def test_a_start_marks_every_month_once_then_only_after_the_cache_format_changes(sessions, rewrite, read,
                                                                                monkeypatch):
    rewrite(HAO_FU, [("2026-02-03", "verified", "cadre001")])
    rewrite(DONG, [("2026-03-05", None, "cadre002")])
    with session_scope(sessions) as session:
        clear_cache(session)      # counts of an older version: the marks of their months are gone with them
    assert read(count_uncounted_once) is True                  # the first start after the upgrade: every month
    assert stale_marks(sessions) == [(VILLAGE, "2026-02"), (VILLAGE_2, "2026-03")]
    read(refill_stale)
    assert read(count_uncounted_once) is False                 # the next start reads nothing
    assert stale_marks(sessions) == []
    with session_scope(sessions) as session:
        assert session.get(CacheFormat, "coverage_months").format == sync.coverage.CACHE_FORMAT
        cached = session.scalar(select(func.count()).select_from(CoverageMonth))
    assert cached > 0
    monkeypatch.setattr(sync.coverage, "CACHE_FORMAT", "next")  # a version that keeps the counts another way
    assert read(count_uncounted_once) is True
    with session_scope(sessions) as session:
        assert session.scalar(select(func.count()).select_from(CoverageMonth)) == 0   # the old counts are gone
        assert session.get(CacheFormat, "coverage_months").format == "next"
    assert stale_marks(sessions) == [(VILLAGE, "2026-02"), (VILLAGE_2, "2026-03")]
    read(refill_stale)
    assert read(count_uncounted_once) is False


# ---- the households per area are counted once per roster change ----------------------------------------------

def test_the_households_per_area_are_counted_again_only_when_the_households_list_changes(sessions, sample_district,
                                                                                          read):
    """Issue 18: counting the households in view read every one of them on each request. They are counted once per
    revision of the households list (sync/entity_list.py), which every change of a household renews."""
    from sync.coverage import households_per_area
    from sync.entity_list import bump_revision
    before = read(coverage_for_month, None, MONTH, area_code=VILLAGE).total.counts.assigned
    assert before == read(households_per_area)[read(lambda s: s.scalar(select(Area.id).where(Area.code == VILLAGE)))]
    with session_scope(sessions) as session:  # a household written without renewing the revision: not seen
        village = session.scalar(select(Area.id).where(Area.code == VILLAGE))
        session.add(Household(number="2105040010019999", area_id=village, head_name="新户"))
    assert read(coverage_for_month, None, MONTH, area_code=VILLAGE).total.counts.assigned == before
    with session_scope(sessions) as session:  # as the roster import, the reconciler and a registration do
        bump_revision(session, "households")
    assert read(coverage_for_month, None, MONTH, area_code=VILLAGE).total.counts.assigned == before + 1
    assert read(households_per_area)[village] == before + 1
