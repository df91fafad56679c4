"""The exit procedure's rules (sync/exit_procedure.py). DOMAIN.md "Precisions", line 110: "Exit follows a procedure:
民主评议 → 村两委和驻村工作队核实 → 村内公示 → 镇核查 → 县抽查 → 批准公告 → 备案标注 (001)"."""
import datetime as dt

import pytest

from server.errors import DomainError
from sync.exit_procedure import ORDER, STEPS, check_step, may_enter, next_step

TODAY = dt.date(2026, 12, 6)


def test_the_steps_are_the_seeds_seven_in_their_order():
    assert [STEPS[s][0] for s in ORDER] == ["民主评议", "村两委和驻村工作队核实", "村内公示", "镇核查", "县抽查",
                                            "批准公告", "备案标注"]
    assert next_step([]) == "appraisal" and next_step(list(ORDER[:3])) == "town_check"
    assert next_step(list(ORDER)) is None


def refusal(done, step, on):
    with pytest.raises(DomainError) as caught:
        check_step(done, step, on, TODAY)
    return caught.value.kind, caught.value.code


def test_only_the_next_step_may_be_entered():
    assert refusal([], "verification", TODAY) == ("conflict", "exit.out_of_order")
    done = [(s, dt.date(2026, 11, 1)) for s in ORDER[:2]]
    assert refusal(done, "appraisal", TODAY) == ("conflict", "exit.out_of_order")
    assert refusal(done, "town_check", TODAY) == ("conflict", "exit.out_of_order")
    check_step(done, "publicity", TODAY, TODAY)
    assert refusal([(s, TODAY) for s in ORDER], "filing", TODAY) == ("conflict", "exit.out_of_order")


def test_a_step_is_dated_neither_in_the_future_nor_before_the_previous_one():
    assert refusal([], "appraisal", TODAY + dt.timedelta(days=1)) == ("invalid", "exit.date_in_future")
    assert refusal([], "appraisal", None) == ("invalid", "exit.date_required")
    done = [("appraisal", dt.date(2026, 11, 10))]
    assert refusal(done, "verification", dt.date(2026, 11, 9)) == ("invalid", "exit.date_before_previous")
    check_step(done, "verification", dt.date(2026, 11, 10), TODAY)  # the same day is allowed


@pytest.mark.parametrize("level, allowed", [
    ("group", set()),
    ("village", {"appraisal", "verification", "publicity"}),
    ("town", {"appraisal", "verification", "publicity", "town_check"}),
    ("county", set(ORDER)),
    (None, set()),
])
def test_a_supervisor_enters_the_steps_of_their_level_and_below(level, allowed):
    assert {s for s in ORDER if may_enter(s, "supervisor", level)} == allowed


def test_an_admin_enters_every_step_and_a_cadre_none():
    assert all(may_enter(s, "admin", None) for s in ORDER)
    assert not any(may_enter(s, "cadre", "county") for s in ORDER)
