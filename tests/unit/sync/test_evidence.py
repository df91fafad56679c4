"""Visit evidence (DOMAIN.md:66-70 "A visit counts only if it really happened at the house … GPS at the door near
the household's known location and a photo taken at that time are the evidence")."""
import datetime as dt

from sync.evidence import judge_visit, metres, proposed_location
from sync.rules import load_rules

EVIDENCE = load_rules().evidence
HOUSE = (41.296222, 123.801020)
WHEN = dt.datetime(2026, 11, 20, 2, 0, tzinfo=dt.timezone.utc)  # 10:00 in China


def visit(lat=41.2963, lon=123.8011, accuracy=5.0, photos=None):
    gps = None if lat is None else {"latitude": lat, "longitude": lon, "altitude": 100.0, "accuracy": accuracy}
    return {"gps": gps, "photos": {"family": "f.jpg"} if photos is None else photos, "instance_id": "uuid:1",
            "at": WHEN.isoformat()}


def photo(received=True, check="ok", taken="2026-11-20T10:05:00", gps=None):
    return {"received": received, "image_check": check,
            "image_info": {"taken_at": taken, "gps": list(gps) if gps else None}}


def codes(verdict):
    return [r["code"] for r in verdict.reasons]


def test_near_the_house_with_a_photo_taken_then_is_verified():
    verdict = judge_visit(visit(), HOUSE, {"f.jpg": photo(gps=(41.2963, 123.8012))}, WHEN, EVIDENCE)
    assert (verdict.verdict, verdict.reasons) == ("verified", [])


def test_far_from_the_house_is_questionable_with_the_distance():
    verdict = judge_visit(visit(lat=41.31, lon=123.80), HOUSE, {"f.jpg": photo()}, WHEN, EVIDENCE)
    assert verdict.verdict == "questionable" and codes(verdict) == ["gps_far"]
    assert 1400 < verdict.reasons[0]["details"]["distance_m"] < 1600
    assert round(metres((41.31, 123.80), HOUSE)) == verdict.reasons[0]["details"]["distance_m"]


def test_inaccurate_gps_is_questionable():
    assert codes(judge_visit(visit(accuracy=120), HOUSE, {"f.jpg": photo()}, WHEN, EVIDENCE)) == ["gps_inaccurate"]


def test_missing_gps_or_photo():
    assert codes(judge_visit(visit(lat=None), HOUSE, {"f.jpg": photo()}, WHEN, EVIDENCE)) == ["no_gps"]
    assert codes(judge_visit(visit(), HOUSE, {"f.jpg": photo(received=False)}, WHEN, EVIDENCE)) == ["photo_missing"]
    assert codes(judge_visit(visit(photos={}), HOUSE, {}, WHEN, EVIDENCE)) == ["photo_missing"]
    nothing = judge_visit(visit(lat=None, photos={}), HOUSE, {}, WHEN, EVIDENCE)
    assert nothing.verdict == "no_evidence"


def test_photo_taken_another_day_or_elsewhere_is_questionable():
    old = judge_visit(visit(), HOUSE, {"f.jpg": photo(taken="2026-10-01T09:00:00")}, WHEN, EVIDENCE)
    assert codes(old) == ["photo_time_mismatch"]
    elsewhere = judge_visit(visit(), HOUSE, {"f.jpg": photo(gps=(40.0, 120.0))}, WHEN, EVIDENCE)
    assert codes(elsewhere) == ["photo_gps_mismatch"]


def test_a_broken_photo_is_questionable_but_a_pending_check_is_not():
    assert codes(judge_visit(visit(), HOUSE, {"f.jpg": photo(check="truncated")}, WHEN, EVIDENCE)) == ["photo_invalid"]
    pending = {"received": True, "image_check": None, "image_info": None}
    assert judge_visit(visit(), HOUSE, {"f.jpg": pending}, WHEN, EVIDENCE).verdict == "verified"


def test_household_without_location_gets_the_first_accurate_point_proposed():
    verdict = judge_visit(visit(), None, {"f.jpg": photo()}, WHEN, EVIDENCE)
    assert codes(verdict) == ["no_household_location"]
    visits = [visit(accuracy=40) | {"instance_id": "uuid:rough"}, visit(accuracy=8) | {"instance_id": "uuid:good"}]
    proposal = proposed_location(visits, EVIDENCE)
    assert proposal["instance_id"] == "uuid:good" and proposal["accuracy"] == 8
    assert proposed_location(visits[:1], EVIDENCE) is None


def test_nobody_at_home_is_an_attempt_without_a_family_photo():
    """DOMAIN.md Precisions: "A visit may also find nobody home (失联/不在家): that is recorded as such, without a
    family photo, and counts as an attempt, not a visit"."""
    for outcome in ("not_home", "lost_contact"):
        verdict = judge_visit({**visit(photos={}), "outcome": outcome}, HOUSE, {}, WHEN, EVIDENCE)
        assert (verdict.verdict, codes(verdict)) == ("attempt", ["attempt"])
    met = judge_visit({**visit(), "outcome": "visited"}, HOUSE, {"f.jpg": photo()}, WHEN, EVIDENCE)
    assert met.verdict == "verified"
