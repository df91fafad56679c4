"""Housing assessments and income surveys judged as evidence, and the same photo used twice (issue 14 item 11).

DOMAIN.md:68-70 "GPS at the door near the household's known location and a photo taken at that time are the
evidence"; DOMAIN.md:48 the assessment's "Photos of the house and the grade sign; GPS"; DOMAIN.md:73 data-quality
findings are "found and listed for correction".
"""

from sync.evidence import entry_findings, metres
from sync.forms import DEFINITIONS
from sync.photo_reuse import OTHER_HOUSEHOLD, OTHER_MONTH, Use, reuse_findings
from sync.rules import load_rules

EVIDENCE = load_rules().evidence
ASSESSMENT, INCOME = DEFINITIONS["housing_assessment"], DEFINITIONS["income_survey"]
HOUSE = (41.296222, 123.801020)


def north(metres_away: float) -> tuple[float, float]:
    """A point due north of the house, `metres_away` from it (as metres() measures)."""
    lat = HOUSE[0] + metres_away / 111_000
    for _ in range(5):  # a few Newton steps on the geodesic distance
        lat += (metres_away - metres((lat, HOUSE[1]), HOUSE)) / 111_000
    return lat, HOUSE[1]


def entry(point=HOUSE, date="2026-11-21", photos=None):
    gps = None if point is None else {"latitude": point[0], "longitude": point[1], "altitude": 90.0, "accuracy": 4.0}
    return {"instance_id": "uuid:a", "date": date, "gps": gps,
            "photos": {"photo_house": "house.jpg"} if photos is None else photos}


def photo(taken="2026-11-21T10:00:00", gps=None, received=True, check="ok"):
    return {"received": received, "image_check": check, "image_info": {"taken_at": taken, "gps": gps}}


def codes(found):
    return [f["code"] for f in found]


def test_the_bundled_evidence_thresholds():
    assert (EVIDENCE["max_distance_m"], EVIDENCE["max_photo_time_gap_hours"]) == (200, 12)


def test_an_assessment_at_the_house_with_its_days_photo_has_no_finding():
    assert entry_findings(ASSESSMENT, entry(), HOUSE, {"house.jpg": photo()}, EVIDENCE) == []


def test_an_assessments_gps_exactly_at_the_distance_passes_and_a_metre_further_is_a_finding():
    assert entry_findings(ASSESSMENT, entry(point=north(200)), HOUSE, {"house.jpg": photo()}, EVIDENCE) == []
    found = entry_findings(ASSESSMENT, entry(point=north(201.5)), HOUSE, {"house.jpg": photo()}, EVIDENCE)
    assert codes(found) == ["gps_far"]
    assert found[0]["details"] == {"instance_id": "uuid:a", "form": "housing_assessment", "distance_m": 202}
    assert found[0]["message_zh"].startswith("住房安全鉴定（2026-11-21）：表上定位离该户 202 米")


def test_without_a_known_house_or_a_gps_the_distance_is_not_judged():
    far = entry(point=north(5000))
    assert entry_findings(ASSESSMENT, far, None, {"house.jpg": photo()}, EVIDENCE) == []
    assert entry_findings(INCOME, entry(point=None, photos={}), HOUSE, {}, EVIDENCE) == []


def test_a_photo_taken_within_twelve_hours_of_the_forms_day_passes_and_later_is_a_finding():
    # the day is 2026-11-21 in China; 12 h after its end is 2026-11-22 12:00, 12 h before its start 2026-11-20 12:00
    for taken in ("2026-11-22T12:00:00", "2026-11-20T12:00:00", "2026-11-21T23:59:00+08:00"):
        assert entry_findings(ASSESSMENT, entry(), HOUSE, {"house.jpg": photo(taken)}, EVIDENCE) == [], taken
    for taken in ("2026-11-22T12:01:00", "2026-11-20T11:59:00", "2026-11-22T04:01:00+00:00"):
        found = entry_findings(ASSESSMENT, entry(), HOUSE, {"house.jpg": photo(taken)}, EVIDENCE)
        assert codes(found) == ["photo_time_mismatch"], taken
    assert "表上日期" in found[0]["message_zh"] and "房屋全景照片" in found[0]["message_zh"]


def test_an_income_sheet_photo_is_judged_against_the_surveys_date_and_gps():
    survey = entry(photos={"photo_ledger": "sheet.jpg"})
    assert codes(entry_findings(INCOME, survey, HOUSE, {"sheet.jpg": photo("2026-10-01T10:00:00")}, EVIDENCE)) \
        == ["photo_time_mismatch"]
    assert codes(entry_findings(INCOME, survey, HOUSE, {"sheet.jpg": photo(gps=[40.0, 120.0])}, EVIDENCE)) \
        == ["photo_gps_mismatch"]
    assert codes(entry_findings(INCOME, survey, HOUSE, {"sheet.jpg": photo(received=False)}, EVIDENCE)) \
        == ["photo_missing"]
    assert codes(entry_findings(INCOME, survey, HOUSE, {"sheet.jpg": photo(check="corrupt")}, EVIDENCE)) \
        == ["photo_invalid"]


def use(submission, household, sha="a" * 64, filename="f.jpg"):
    return Use(sha, submission, f"uuid:{submission}", household, filename)


def test_a_photo_of_one_submission_only_is_no_finding():
    own = [use(1, "H1")]
    assert reuse_findings(own, own, {1: "2026-11"}) == []


def test_the_same_photo_in_another_households_submission_is_a_finding_naming_it():
    own = [use(1, "H1")]
    found = reuse_findings(own, [*own, use(2, "H2"), use(3, "H3", sha="b" * 64)], {1: "2026-11"})
    assert codes(found) == [OTHER_HOUSEHOLD]
    assert found[0]["details"]["others"] == [{"household": "H2", "instance_id": "uuid:2"}]
    assert found[0]["details"]["count"] == 1 and "H2" in found[0]["message_zh"]


def test_the_same_photo_in_two_months_of_one_household_is_a_finding_but_not_twice_in_one_month():
    own = [use(1, "H1"), use(2, "H1"), use(3, "H1")]
    months = {1: "2026-10", 2: "2026-11", 3: "2026-11"}
    found = reuse_findings(own, own, months)
    assert [(f["code"], f["details"]["instance_id"], f["details"]["other_months"]) for f in found] == [
        (OTHER_MONTH, "uuid:1", ["2026-11"]), (OTHER_MONTH, "uuid:2", ["2026-10"]),
        (OTHER_MONTH, "uuid:3", ["2026-10"])]
    assert reuse_findings(own[1:], own[1:], months) == []


def test_a_photo_used_by_many_households_names_five_and_counts_them_all():
    own = [use(1, "H1")]
    others = [use(n, f"H{n}") for n in range(2, 10)]
    found = reuse_findings(own, [*own, *others], {1: "2026-11"})
    assert found[0]["details"]["count"] == 8 and len(found[0]["details"]["others"]) == 5
    assert "等" in found[0]["message_zh"]
