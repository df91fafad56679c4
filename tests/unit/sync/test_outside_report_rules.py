"""The rules of a report of a household outside the roster (sync/outside_reports.py)."""
from sync.models import Area
from sync.outside_reports import next_number, report_findings, suggested_type

VILLAGE = Area(id=9, code="210504001001", name="高峪一村", level="village", path="/1/2/9/")
GOOD = {"id_number": "210504198001010015", "village_code": "210504001001", "head_name": "刘新"}


def codes(found):
    return [f["code"] for f in found]


def test_a_usable_report_has_no_findings():
    assert report_findings(GOOD, VILLAGE, covered=True) == []


def test_what_cannot_be_used_is_a_finding_and_the_report_is_kept():
    # DOMAIN.md:95: the report is decided on by a supervisor, so nothing in it refuses it
    assert codes(report_findings({**GOOD, "id_number": "210504198001010016"}, VILLAGE, True)) == ["id_number_invalid"]
    assert codes(report_findings({**GOOD, "id_number": "21050419800101"}, VILLAGE, True)) == ["id_number_invalid"]
    assert codes(report_findings(GOOD, VILLAGE, covered=False)) == ["village_outside_areas"]
    assert codes(report_findings(GOOD, None, covered=False)) == ["village_unknown"]
    town = Area(id=2, code="210504001", name="高峪街道", level="town", path="/1/2/")
    assert codes(report_findings(GOOD, town, covered=True)) == ["village_unknown"]
    assert codes(report_findings({**GOOD, "head_name": None}, VILLAGE, True)) == ["head_name_missing"]


def test_the_subtype_the_reasons_suggest():
    # DOMAIN.md:91-92: 边缘易致贫户 (a non-registered household near the line), 突发严重困难户 (sudden hardship)
    assert suggested_type(["near_line"]) == "边缘易致贫户"
    assert suggested_type(["illness", "accident"]) == "突发严重困难户"
    assert suggested_type(["near_line", "illness"]) == "边缘易致贫户"
    assert suggested_type(["dropout", "dangerous_house"]) == "边缘易致贫户"


def test_a_new_number_follows_the_villages_numbering():
    existing = ["2105040010010001", "2105040010010109", "2105040010020110", "21050400100199", "2105040010010abc"]
    assert next_number(existing, "210504001001") == "2105040010010110"
    assert next_number([], "210504001001") == "2105040010010001"
    assert next_number(["2105040010010010007"], "210504001001001") == "2105040010010010008"
