"""The evidence thresholds of rules.toml [evidence] pinned from both sides — accuracy 50 m, distance 200 m, photo
time 12 h, photo position 500 m, proposal accuracy 20 m — and a photo's EXIF time with a UTC offset (issue 14 item
13). DOMAIN.md:66-70 "A visit counts only if it really happened at the house … GPS at the door near the household's
known location and a photo taken at that time are the evidence"."""
import datetime as dt

import pytest
from geopy.distance import geodesic

from sync.evidence import entry_findings, judge_visit, metres, proposed_location
from sync.forms import definition
from sync.rules import load_rules

EVIDENCE = load_rules().evidence
HOUSE = (41.296222, 123.801020)
WHEN = dt.datetime(2026, 11, 20, 2, 0, tzinfo=dt.timezone.utc)  # 10:00 in China


def north_of(point, m):
    """A point `m` metres north of `point` (geopy's own geodesic, not the code under test)."""
    moved = geodesic(meters=m).destination(point, bearing=0)
    return (moved.latitude, moved.longitude)


def visit(point=HOUSE, accuracy=5.0, photos=None, **extra):
    gps = None if point is None else {"latitude": point[0], "longitude": point[1], "accuracy": accuracy}
    return {"gps": gps, "photos": {"family": "f.jpg"} if photos is None else photos, "instance_id": "uuid:1",
            "at": WHEN.isoformat(), **extra}


def photo(taken=None, gps=None, check="ok", received=True):
    return {"received": received, "image_check": check,
            "image_info": {"taken_at": taken, "gps": list(gps) if gps else None}}


def reasons(verdict):
    return [(r["code"], r["details"]) for r in verdict.reasons]


def judge(v, photos=None, house=HOUSE):
    return judge_visit(v, house, {"f.jpg": photo()} if photos is None else photos, WHEN, EVIDENCE)


@pytest.mark.parametrize("accuracy, expected", [
    (50, []), (50.1, [("gps_inaccurate", {"accuracy": 50.1})]), (None, [("gps_inaccurate", {"accuracy": None})])])
def test_gps_accuracy_of_50_m_from_both_sides(accuracy, expected):
    """rules.toml max_accuracy_m = 50: a fix that accurate counts, a worse one (or one of unknown accuracy) does
    not."""
    verdict = judge(visit(accuracy=accuracy))
    assert reasons(verdict) == expected
    assert verdict.verdict == ("questionable" if expected else "verified")


@pytest.mark.parametrize("m, expected", [(200, []), (201, [("gps_far", {"distance_m": 201})])])
def test_distance_of_200_m_from_both_sides(m, expected):
    """rules.toml max_distance_m = 200: GPS at the door within 200 m of the household's known location."""
    point = north_of(HOUSE, m)
    assert round(metres(point, HOUSE)) == m
    assert reasons(judge(visit(point))) == expected


@pytest.mark.parametrize("taken, hours", [
    ("2026-11-20T22:00:00", None),  # 12 h after the visit, China time: allowed
    ("2026-11-20T22:00:05", 12.0),  # 5 s over 12 h: an hour is 3,600 s
    ("2026-11-19T22:00:00", None),  # 12 h before
    ("2026-11-19T21:54:00", 12.1),
])
def test_photo_time_of_12_h_from_both_sides(taken, hours):
    """rules.toml max_photo_time_gap_hours = 12: an EXIF time without an offset is the phone's (China) time."""
    expected = [] if hours is None else [("photo_time_mismatch", {"photo": "f.jpg", "hours": hours})]
    assert reasons(judge(visit(), {"f.jpg": photo(taken=taken)})) == expected


def test_an_exif_time_with_a_utc_offset_is_read_with_it():
    """The photo was taken 13 h after the visit if its EXIF time says +00:00 (23:00 in China), 5 h after if it says
    +08:00: the offset decides, the China default applies only to a time without one."""
    late = judge(visit(), {"f.jpg": photo(taken="2026-11-20T15:00:00+00:00")})
    assert reasons(late) == [("photo_time_mismatch", {"photo": "f.jpg", "hours": 13.0})]
    assert reasons(judge(visit(), {"f.jpg": photo(taken="2026-11-20T15:00:00+08:00")})) == []
    assert reasons(judge(visit(), {"f.jpg": photo(taken="2026-11-20T15:00:00")})) == []


@pytest.mark.parametrize("m, expected", [(500, []), (502, [("photo_gps_mismatch", {"photo": "f.jpg",
                                                                                    "distance_m": 502})])])
def test_photo_position_500_m_from_the_visits_gps_from_both_sides(m, expected):
    """rules.toml max_photo_gps_gap_m = 500: a photo's EXIF position is compared with the visit's GPS."""
    point = north_of(HOUSE, 100)
    taken_at = north_of(point, m)
    assert reasons(judge(visit(point), {"f.jpg": photo(gps=taken_at)})) == expected
    # without the visit's GPS there is nothing to compare the photo's position with
    assert reasons(judge(visit(None), {"f.jpg": photo(gps=taken_at)})) == [("no_gps", {})]


def test_photos_named_missing_broken_or_not_yet_checked():
    """DOMAIN.md:70 "a photo taken at that time" is evidence: the family photo is required, a named photo must
    arrive and be an image; one whose check has not run yet is not held against the visit."""
    assert reasons(judge(visit(photos={}), {})) == [("photo_missing", {"photo": "family"})]
    assert reasons(judge(visit(photos={"family": ""}), {})) == [("photo_missing", {"photo": "family"})]
    assert reasons(judge(visit(photos={"family": "f.jpg", "water_sign": "w.jpg"}))) == [
        ("photo_missing", {"photo": "w.jpg"})]
    assert reasons(judge(visit(), {"f.jpg": photo(received=False)})) == [("photo_missing", {"photo": "f.jpg"})]
    for check in ("not_an_image", "unsupported_format", "too_many_pixels", "dimensions_too_large", "truncated",
                  "corrupt"):
        assert reasons(judge(visit(), {"f.jpg": photo(check=check)})) == [
            ("photo_invalid", {"photo": "f.jpg", "check": check})]
    assert judge(visit(), {"f.jpg": {"received": True, "image_check": None, "image_info": None}}).verdict == \
        "verified"


def test_no_evidence_only_without_gps_and_without_a_received_photo():
    """DOMAIN.md:66-70: neither GPS nor a photo is no evidence at all; either alone is questionable."""
    nothing = judge(visit(None), {"f.jpg": photo(received=False)})
    assert (nothing.verdict, reasons(nothing)) == ("no_evidence", [("no_evidence", {})])
    gps_only = judge(visit(photos={}), {})
    assert gps_only.verdict == "questionable"
    photo_only = judge(visit(None))
    assert (photo_only.verdict, reasons(photo_only)) == ("questionable", [("no_gps", {})])
    unknown_house = judge(visit(), house=None)
    assert reasons(unknown_house) == [("no_household_location", {})]


def test_a_visit_with_an_outcome_of_visited_is_judged_and_others_are_attempts():
    """DOMAIN.md Precisions: a visit that finds nobody home "counts as an attempt, not a visit"."""
    assert judge(visit(outcome="visited")).verdict == "verified"
    attempt = judge(visit(outcome="not_home", photos={}), {})
    assert (attempt.verdict, reasons(attempt)) == ("attempt", [("attempt", {})])


@pytest.mark.parametrize("accuracy, proposed", [(20, True), (20.5, False), (None, False)])
def test_proposal_accuracy_of_20_m_from_both_sides(accuracy, proposed):
    """rules.toml proposal_accuracy_m = 20: a household without a location gets the first visit point at least
    that accurate as a proposal."""
    visits = [{"gps": None, "instance_id": "uuid:0", "at": "t0"},
              {"gps": {"latitude": 41.3, "longitude": 123.8, "accuracy": accuracy}, "instance_id": "uuid:1",
               "at": "t1"},
              {"gps": {"latitude": 41.4, "longitude": 123.9, "accuracy": 3}, "instance_id": "uuid:2", "at": "t2"}]
    first = {"latitude": 41.3, "longitude": 123.8, "accuracy": accuracy, "instance_id": "uuid:1", "at": "t1"}
    second = {"latitude": 41.4, "longitude": 123.9, "accuracy": 3, "instance_id": "uuid:2", "at": "t2"}
    assert proposed_location(visits, EVIDENCE) == (first if proposed else second)
    assert proposed_location(visits[:2], EVIDENCE) == (first if proposed else None)


ASSESSMENT = definition("housing_assessment")


def entry(day="2026-11-20", point=None, photos=None):
    gps = {"latitude": point[0], "longitude": point[1], "accuracy": 5} if point else None
    return {"instance_id": "uuid:h", "date": day, "gps": gps, "photos": photos or {}}


@pytest.mark.parametrize("taken, hours", [
    ("2026-11-20T00:00:00", None), ("2026-11-20T23:59:59", None),  # the form's day in China
    ("2026-11-19T12:00:00", None), ("2026-11-19T11:54:00", 12.1),  # 12 h before the day, and more
    ("2026-11-21T12:00:00", None), ("2026-11-21T12:06:00", 12.1),  # 12 h after the day, and more
    ("2026-11-21T12:00:00.500000", 12.0),  # half a second more: the day is 24 h, not a second more
    ("2026-11-20T16:30:00+00:00", None),  # 00:30 on the 21st in China, half an hour after the day: allowed
    ("2026-11-21T04:30:00+00:00", 12.5),  # 12:30 on the 21st in China: the offset is read
])
def test_an_assessments_photo_is_taken_on_its_day_give_or_take_12_h(taken, hours):
    """Issue 14 item 11, DOMAIN.md:66-70: assessments are judged by the same evidence — a photo taken on the form's
    date (its day in China, give or take max_photo_time_gap_hours)."""
    found = entry_findings(ASSESSMENT, entry(photos={"photo_house": "p.jpg"}), HOUSE,
                           {"p.jpg": photo(taken=taken)}, EVIDENCE)
    if hours is None:
        assert found == []
    else:
        assert [(f["code"], f["details"]) for f in found] == [
            ("photo_time_mismatch", {"instance_id": "uuid:h", "form": "housing_assessment", "photo": "p.jpg",
                                     "hours": hours})]


def test_an_assessment_far_from_the_house_or_with_its_photo_elsewhere():
    """Issue 14 item 11: the form's GPS within 200 m of the house, its photos within 500 m of its GPS; a form
    without a date or GPS, or a household without a location, is not compared on them."""
    far = entry(point=north_of(HOUSE, 201), photos={"photo_house": "p.jpg", "photo_sign": ""})
    found = entry_findings(ASSESSMENT, far, HOUSE, {"p.jpg": photo(gps=north_of(north_of(HOUSE, 201), 502))},
                           EVIDENCE)
    assert [(f["code"], f["details"]) for f in found] == [
        ("gps_far", {"instance_id": "uuid:h", "form": "housing_assessment", "distance_m": 201}),
        ("photo_gps_mismatch", {"instance_id": "uuid:h", "form": "housing_assessment", "photo": "p.jpg",
                                "distance_m": 502})]
    assert found[0]["message_zh"] == "住房安全鉴定（2026-11-20）：表上定位离该户 201 米（允许 200 米）"
    assert found[0]["message_en"] == ("Housing-safety assessment (2026-11-20): The form's GPS is 201 m from the "
                                      "household (allowed 200 m)")
    near = entry(point=north_of(HOUSE, 200), photos={"photo_house": "p.jpg"})
    assert entry_findings(ASSESSMENT, near, HOUSE, {"p.jpg": photo(gps=north_of(north_of(HOUSE, 200), 500))},
                          EVIDENCE) == []
    assert entry_findings(ASSESSMENT, far, None, {"p.jpg": photo()}, EVIDENCE) == []
    undated = entry(day=None, photos={"photo_house": "p.jpg"})
    assert entry_findings(ASSESSMENT, undated, HOUSE, {"p.jpg": photo(taken="2020-01-01T00:00:00")}, EVIDENCE) == []
    missing = entry_findings(ASSESSMENT, entry(photos={"photo_house": "p.jpg"}), HOUSE, {}, EVIDENCE)
    assert [(f["code"], f["details"]) for f in missing] == [
        ("photo_missing", {"instance_id": "uuid:h", "form": "housing_assessment", "photo": "p.jpg"})]
