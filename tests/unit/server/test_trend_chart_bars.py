"""The coverage page's trend chart (server/pages/coverage.py:trend_chart), laid out from a report's numbers: months
before any visit and an area with nobody to visit have no bar (issue 17 item 8), the bars' figures are
percentages."""
from server.pages.coverage import trend_chart
from sync.coverage import Counts, TrendPoint


def points(*counts: tuple[int, int, int]) -> list[TrendPoint]:
    return [TrendPoint(f"2026-{i + 6:02d}", Counts(*c)) for i, c in enumerate(counts)]


def test_months_before_the_first_visit_have_no_bar_and_later_empty_months_are_zero():
    chart = trend_chart(points((19, 0, 0), (19, 0, 0), (19, 2, 1), (19, 0, 0), (19, 5, 0), (19, 0, 0)))
    assert [b["no_data"] for b in chart["bars"]] == [True, True, False, False, False, False]
    assert "verified_h" not in chart["bars"][0] and "verified_pct" not in chart["bars"][1]
    # after the first visit a month without one is a real 0: nobody visited
    assert chart["bars"][3]["verified_pct"] == 0.0 and chart["bars"][3]["verified_h"] == 0.0
    assert chart["bars"][2]["verified_pct"] == 10.5 and chart["bars"][2]["questionable_pct"] == 5.3
    assert not chart["empty"]


def test_an_area_with_nobody_to_visit_has_no_bars_at_all():
    chart = trend_chart(points(*[(0, 0, 0)] * 6))
    assert chart["empty"] and all(b["no_data"] for b in chart["bars"])


def test_a_full_month_reaches_the_top_of_the_plot():
    chart = trend_chart(points((10, 10, 0)))
    bar = chart["bars"][0]
    assert bar["verified_y"] == chart["grid"][-1]["y"] and bar["verified_y"] + bar["verified_h"] == chart["bottom"]
