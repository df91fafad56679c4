"""The visiting duties' rules (sync/duties.py), each citing the DOMAIN.md line it implements:

"Who must visit: the paired cadre monthly; the village secretary and town secretary every poor household (遍访, 001,
002, 004); the village work team lives in the village ≥ 20 days a month (001)." (DOMAIN.md, "Precisions")
"""
import datetime as dt

import pytest

from sync.duties import DutyVisit, paired_met, secretary_met, secretary_window, work_team_days
from sync.rules import load_rules


def visit(month="2026-11", visitor="cadre001", duty="paired", verdict="verified", day=20, household=1):
    date = dt.date(int(month[:4]), int(month[5:]), day) if month else None
    return DutyVisit(household, month, date, visitor, duty, verdict)


# ---- "the paired cadre monthly" --------------------------------------------------------------------------------

def test_the_paired_cadres_own_visit_in_the_month_meets_the_duty():
    assert paired_met("cadre001", [visit()], "2026-11") is True


def test_a_visit_by_someone_else_does_not_do_the_paired_cadres_duty():
    assert paired_met("cadre001", [visit(visitor="town1"), visit(visitor="cadre004")], "2026-11") is False


def test_the_paired_cadres_visit_of_another_month_does_not_count():
    assert paired_met("cadre001", [visit(month="2026-10")], "2026-11") is False


def test_an_attempt_nobody_home_is_not_a_visit():
    """DOMAIN.md "Precisions": a visit that finds nobody home "counts as an attempt, not a visit"."""
    assert paired_met("cadre001", [visit(verdict="attempt")], "2026-11") is False
    assert secretary_met("village_secretary", [visit(duty="village_secretary", verdict="attempt")],
                         "2026-11", 12) is False


def test_a_household_without_a_paired_cadre_has_no_paired_duty():
    assert paired_met(None, [visit()], "2026-11") is None
    assert paired_met("", [], "2026-11") is None


# ---- "the village secretary and town secretary every poor household (遍访)" -------------------------------------

@pytest.mark.parametrize("month, months, window", [("2026-11", 12, ("2025-12", "2026-11")),
                                                   ("2026-03", 3, ("2026-01", "2026-03")),
                                                   ("2026-01", 2, ("2025-12", "2026-01")),
                                                   ("2026-11", 0, ("2026-11", "2026-11"))])
def test_the_secretaries_period_ends_with_the_month(month, months, window):
    assert secretary_window(month, months) == window


@pytest.mark.parametrize("duty", ["village_secretary", "town_secretary"])
def test_a_secretarys_visit_within_the_period_meets_the_duty(duty):
    assert secretary_met(duty, [visit(month="2025-12", visitor="sec", duty=duty)], "2026-11", 12)
    assert secretary_met(duty, [visit(month="2026-11", visitor="sec", duty=duty)], "2026-11", 12)


@pytest.mark.parametrize("duty", ["village_secretary", "town_secretary"])
def test_a_secretarys_visit_outside_the_period_does_not(duty):
    assert not secretary_met(duty, [visit(month="2025-11", visitor="sec", duty=duty)], "2026-11", 12)
    assert not secretary_met(duty, [visit(month="2026-12", visitor="sec", duty=duty)], "2026-11", 12)


def test_the_role_is_the_visits_not_the_visitors_name():
    """Who visited as what is the role the visit was received with: a paired cadre's visit is not a secretary's,
    and a village secretary's is not the town secretary's."""
    assert not secretary_met("village_secretary", [visit(visitor="village_sec", duty="paired")], "2026-11", 12)
    assert not secretary_met("town_secretary", [visit(duty="village_secretary")], "2026-11", 12)
    assert not secretary_met("village_secretary", [visit(duty=None)], "2026-11", 12)


def test_the_bundled_rules_configure_the_periods_and_the_days():
    duties = load_rules().duties
    assert duties == {"village_secretary_months": 12, "town_secretary_months": 12, "work_team_days": 20}


def test_the_duties_do_not_change_the_rules_digest(tmp_path):
    """The duties are counted when coverage is asked for, never folded into a record: a new period must not make
    every record be folded again."""
    from sync.rules import BUNDLED_RULES
    changed = tmp_path / "rules.toml"
    changed.write_text(BUNDLED_RULES.read_text("utf-8").replace("village_secretary_months = 12",
                                                                "village_secretary_months = 3"), "utf-8")
    rules = load_rules(changed)
    assert rules.duties["village_secretary_months"] == 3 and rules.digest == load_rules().digest


# ---- "the village work team lives in the village ≥ 20 days a month" --------------------------------------------

def test_the_work_teams_days_are_the_distinct_days_with_a_visit_or_an_attempt():
    visits = [visit(visitor="wt1", duty="work_team", day=3), visit(visitor="wt1", duty="work_team", day=3,
                                                                   household=2),
              visit(visitor="wt1", duty="work_team", day=4, verdict="attempt"),
              visit(visitor="wt2", duty="work_team", day=5),
              visit(month="2026-10", visitor="wt1", duty="work_team", day=6),
              visit(visitor="cadre001", duty="paired", day=7)]
    assert work_team_days(visits, "2026-11") == {"wt1": (2, 2), "wt2": (1, 1)}
