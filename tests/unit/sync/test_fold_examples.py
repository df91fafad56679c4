"""What fold() makes of worked examples from the seeds, checked value by value: the record's flags, its exit
judgement, its income and data-quality findings, its events, its members and its conflicts (issue 14 item 13:
the property tests compare fold() with itself; these say what it must give)."""
import datetime as dt

from sync.facts import Fact
from sync.fold import Baseline, Resolution, conflict_key, fold
from sync.rules import load_rules

RULES = load_rules()
TODAY = dt.date(2026, 11, 25)
T0 = dt.datetime(2026, 1, 1, tzinfo=dt.timezone.utc)
ALL_MET = {"food_secure": "yes", "clothing_secure": "yes", "education_secure": "yes", "medical_secure": "yes",
           "housing_safe": "yes", "water_safe": "yes"}
HEAD = {"name": "户主", "id_number": "210504194707180878", "relation": "户主", "sex": "男", "birth_date": "1947-07-18",
        "schooling": "非在校生"}
WIFE = {"name": "妻子", "id_number": "210504195003030023", "relation": "配偶", "sex": "女", "birth_date": "1950-03-03",
        "schooling": "非在校生"}


def fact(instance_id, minutes, form="household_visit", fields=None, record=None, changes=(), base=None, update=False):
    return Fact(form=form, instance_id=instance_id, household="H1", observed_at=T0 + dt.timedelta(minutes=minutes),
                by="cadre", entity_update=update, base_version=base, trunk_version=None, branch_id=None,
                fields=fields or {}, record=record or {}, member_changes=list(changes))


def income(instance_id, minutes, year, size=2, **parts):
    return fact(instance_id, minutes, "income_survey",
                record={"year": year, "household_size": size, "parts": parts, "spending": {}})


def flags(record):
    return [(f["code"], f["details"]) for f in record.flags]


def findings(record):
    return [(f["code"], f["details"]) for f in record.findings]


def test_an_exited_household_under_the_2018_line_with_little_dibao():
    """DOMAIN.md:97 "3,247 yuan is the 2018 line in one district (000)" and DOMAIN.md:99-100 "re-checked every
    registered household with per-capita net income under 5,000 yuan, especially those with 低保金 under 200 yuan
    (002)": an exited household of two with 5,000 yuan wages and 150 yuan 低保金 in 2018 has 2,575 yuan per person —
    under the line again, on both 排查 lists, and not meeting the exit standard though 两不愁三保障 are met."""
    record = fold(Baseline("H1", "已脱贫", [HEAD, WIFE]),
                  [fact("uuid:v", 1, fields=ALL_MET), income("uuid:i", 2, 2018, wage_income=5000, dibao=150)],
                  [], RULES, TODAY)
    assert record.incomes[0]["total_net"] == 5150 and record.incomes[0]["per_capita"] == 2575
    assert flags(record) == [("exited_under_line", {"year": 2018, "per_capita": 2575, "line": 3247.0}),
                             ("screening_income", {"year": 2018, "per_capita": 2575, "below": 5000.0}),
                             ("screening_dibao", {"year": 2018, "dibao": 150, "below": 200.0})]
    assert record.exit_eligible is False
    assert record.findings == []


def test_above_the_2018_line_with_the_assurances_met_meets_the_exit_standard():
    """DOMAIN.md:61 "per-capita net income stably above that year's line and 两不愁三保障 met": 6,600 yuan for two
    is 3,300 per person, above 3,247 (DOMAIN.md:97) and within the near-line band (× 1.5): 脱贫不稳定 for an exited
    household (DOMAIN.md:92-93), eligible all the same; 3,300 is under 5,000, on the 排查 list (002)."""
    record = fold(Baseline("H1", "已脱贫", [HEAD, WIFE]),
                  [fact("uuid:v", 1, fields=ALL_MET), income("uuid:i", 2, 2018, wage_income=6600)], [], RULES, TODAY)
    assert record.exit_eligible is True
    assert flags(record) == [("unstable_exit", {"year": 2018, "per_capita": 3300, "line": 3247.0}),
                             ("screening_income", {"year": 2018, "per_capita": 3300, "below": 5000.0})]
    assert record.values() == {**ALL_MET, "status": "已脱贫", "income_year": "2018", "income_per_capita": 3300}


def test_a_sharp_fall_and_the_upward_crossing_of_the_line_are_in_the_record():
    """DOMAIN.md:63 "flag households whose income falls sharply" and DOMAIN.md:71-72 "exits … each traced to the
    submission that caused it": 2017 at 3,000 per person is under that year's line (3,335, an example figure),
    2018 at 3,300 is above 3,247 (000) — the crossing upward is an event of the 2018 survey; 2019 at 2,000 falls
    by more than 30 % and under 3,747."""
    record = fold(Baseline("H1", "未脱贫", [HEAD, WIFE]),
                  [income("uuid:a", 1, 2017, wage_income=6000), income("uuid:b", 2, 2018, wage_income=6600)],
                  [], RULES, TODAY)
    crossing = [e for e in record.events if e["kind"] not in ("income_survey",)]
    assert crossing == [{"at": "2026-01-01T00:02:00+00:00", "kind": "income_above_line", "instance_id": "uuid:b",
                         "summary": {"year": 2018, "per_capita": 3300, "line": 3247.0}}]
    assert [e["kind"] for e in record.events] == ["income_survey", "income_survey", "income_above_line"]
    fallen = fold(Baseline("H1", "未脱贫", [HEAD, WIFE]),
                  [income("uuid:a", 1, 2017, wage_income=6000), income("uuid:b", 2, 2018, wage_income=6600),
                   income("uuid:c", 3, 2019, wage_income=4000)], [], RULES, TODAY)
    assert flags(fallen)[0] == ("income_drop", {"year": 2019, "before": 3300, "after": 2000})
    assert [e["kind"] for e in fallen.events][-2:] == ["income_survey", "income_below_line"]
    # a survey without income and a year without a line are not crossings
    quiet = fold(Baseline("H1", "未脱贫", [HEAD, WIFE]),
                 [income("uuid:a", 1, 2013, wage_income=100), income("uuid:b", 2, 2018, wage_income=9000),
                  income("uuid:c", 3, 2019, size=0, wage_income=1)], [], RULES, TODAY)
    assert [e["kind"] for e in quiet.events] == ["income_survey"] * 3


def test_a_dangerous_house_and_the_data_quality_findings_in_the_record():
    """DOMAIN.md:45-48 "C and D are dangerous … D: 45,000 yuan" and DOMAIN.md:73 "logic errors (members vs counted
    size, income parts vs total, ages vs schooling)": a D house under way, a survey of three for two members whose
    reported total is off by 10 yuan, and a visit counting one child 6–15 where the members have none."""
    survey = fact("uuid:i", 3, "income_survey", record={
        "year": 2025, "household_size": 3, "parts": {"wage_income": 30000}, "spending": {},
        "reported_total_net": 30010})
    record = fold(Baseline("H1", "一般户", [HEAD, WIFE]),
                  [fact("uuid:h", 1, "housing_assessment", fields={"housing_grade": "D",
                                                                   "renovation_state": "building"}),
                   fact("uuid:v", 2, record={"children_6_15": 1}), survey], [], RULES, TODAY)
    assert flags(record) == [("dangerous_house", {"grade": "D", "renovation_state": "building", "subsidy": 45000.0})]
    assert findings(record) == [
        ("size_mismatch", {"year": 2025, "survey_size": 3, "members": 2}),
        ("income_total_mismatch", {"year": 2025, "reported": 30010, "computed": 30000}),
        ("children_count_mismatch", {"reported": 1, "members": 0})]
    assert record.exit_eligible is False  # 10,000 per person, but the assurances were never observed


def test_members_are_known_by_their_id_number():
    """DOMAIN.md:71-72 "member changes (births, deaths, marriages, moves), each traced to the submission that caused
    it" and DOMAIN.md:74 "duplicates (same ID number …)": a member who moves in with an ID number already listed is
    not listed twice; a member who leaves is found by ID number before name; a new member's birth date comes from
    the ID number."""
    again = {"type": "moved_in", "name": "户主（重名）", "relation": "户主", "date": "2026-01-02",
             "id_number": HEAD["id_number"]}
    newcomer = {"type": "marriage_in", "name": "儿媳", "relation": "之儿媳", "date": "2026-01-02",
                "id_number": "21050419981112002X"}
    leaves = {"type": "moved_out", "name": "户主", "relation": "配偶", "date": "2026-01-03",
              "id_number": WIFE["id_number"]}
    record = fold(Baseline("H1", "已脱贫", [HEAD, WIFE]),
                  [fact("uuid:v", 1, changes=[again, newcomer, leaves])], [], RULES, TODAY)
    assert [m["name"] for m in record.members] == ["户主", "儿媳"]
    assert record.members[1] == {"name": "儿媳", "id_number": "21050419981112002X", "relation": "之儿媳",
                                 "birth_date": "1998-11-12", "since": "2026-01-02", "source": "uuid:v"}
    assert [e["kind"] for e in record.events] == ["household_visit", "member_added", "member_added",
                                                  "member_removed"]
    assert record.events[1]["summary"] == {"type": "moved_in", "name": "户主（重名）", "relation": "户主",
                                           "date": "2026-01-02"}  # the ID number stays out of the history


def test_members_without_id_numbers_are_known_by_name():
    """DOMAIN.md:71-72 member changes: without ID numbers, two people are not the same person for having none;
    a member who leaves without one is found by name."""
    nameless = {**WIFE, "id_number": None}
    born = {"type": "birth", "name": "新生儿", "relation": "之孙女", "date": "2026-01-02", "id_number": None}
    died = {"type": "death", "name": "妻子", "relation": "配偶", "date": "2026-01-03", "id_number": None}
    record = fold(Baseline("H1", "已脱贫", [HEAD, nameless]), [fact("uuid:v", 1, changes=[born, died])], [], RULES,
                  TODAY)
    assert [(m["name"], m.get("birth_date")) for m in record.members] == [("户主", "1947-07-18"),
                                                                       ("新生儿", "2026-01-02")]
    short = {"type": "moved_in", "name": "短号", "relation": "other", "date": "2026-01-02", "id_number": "2105041998"}
    assert fold(Baseline("H1", "已脱贫", []), [fact("uuid:w", 1, changes=[short])], [], RULES,
                TODAY).members[0]["birth_date"] is None


def test_the_conflict_key_is_a_fixed_digest_of_household_field_version_and_instances():
    """DOMAIN.md:56-57 "several cadres may record the same household before either has synced": the conflict's key
    is sha256("H1|housing_grade|4|uuid:a|uuid:b")[:20], the instances sorted — a literal, so that a change of the
    key (which would orphan stored resolutions) shows."""
    assert conflict_key("H1", "housing_grade", 4, ["uuid:b", "uuid:a"]) == "7a88dc429aabee97720f"
    a = fact("uuid:a", 10, fields={"housing_grade": "B"}, base=4, update=True)
    b = fact("uuid:b", 20, fields={"housing_grade": "C"}, base=4, update=True)
    record = fold(Baseline("H1", "已脱贫", []), [b, a], [], RULES, TODAY)
    assert record.conflicts == [{
        "key": "7a88dc429aabee97720f", "field": "housing_grade", "base_version": 4, "state": "open",
        "entries": [{"instance_id": "uuid:a", "value": "B", "by": "cadre", "at": "2026-01-01T00:10:00+00:00"},
                    {"instance_id": "uuid:b", "value": "C", "by": "cadre", "at": "2026-01-01T00:20:00+00:00"}],
        "current": "C", "resolution": None}]
    at = T0 + dt.timedelta(hours=1)
    settled = fold(Baseline("H1", "已脱贫", []), [a, b],
                   [Resolution("7a88dc429aabee97720f", "housing_grade", "B", "sup", at)], RULES, TODAY)
    assert settled.conflicts[0]["state"] == "resolved" and settled.conflicts[0]["current"] == "B"
    assert settled.conflicts[0]["resolution"] == {"value": "B", "by": "sup", "at": "2026-01-01T01:00:00+00:00"}
    assert settled.fields["housing_grade"] == {"value": "B", "source": "resolution", "conflict": "7a88dc429aabee97720f",
                                               "by": "sup", "at": "2026-01-01T01:00:00+00:00"}
    # not an entity update, or no base version: never a conflict
    c = fact("uuid:c", 30, fields={"housing_grade": "D"}, base=4, update=False)
    d = fact("uuid:d", 40, fields={"housing_grade": "A"}, base=None, update=True)
    assert fold(Baseline("H1", "已脱贫", []), [a, c, d], [], RULES, TODAY).conflicts == []


def test_a_fields_provenance_an_events_content_and_the_surveys_in_year_order():
    """DOMAIN.md:30-32 "One file per household (一户一档): every visit, assessment, income survey … in order, with who
    recorded it and when … every figure must trace back to its source record": a survey observed later for an
    earlier year still sorts by year."""
    record = fold(Baseline("H1", "未脱贫", [HEAD]),
                  [fact("uuid:v", 1, fields={"water_safe": "yes"}, record={"date": "2026-01-01"}),
                   income("uuid:b", 2, 2019, size=1, wage_income=9000),
                   income("uuid:a", 3, 2018, size=1, wage_income=8000)], [], RULES, TODAY)
    assert record.fields["water_safe"] == {"value": "yes", "source": "submission", "instance_id": "uuid:v",
                                           "form": "household_visit", "by": "cadre",
                                           "at": "2026-01-01T00:01:00+00:00"}
    assert record.fields["status"] == {"value": "未脱贫", "source": "roster"}
    assert record.value("status") == "未脱贫" and record.value("no_such_field") is None
    assert [i["year"] for i in record.incomes] == [2018, 2019]
    assert record.value("income_year") == "2019" and record.value("income_per_capita") == 9000
    first = record.events[0]
    assert {k: first[k] for k in ("at", "kind", "instance_id", "by")} == {
        "at": "2026-01-01T00:01:00+00:00", "kind": "household_visit", "instance_id": "uuid:v", "by": "cadre"}
    assert record.visits[0]["instance_id"] == "uuid:v"


def test_a_resolution_is_an_event_of_its_own():
    """DOMAIN.md:56-57: a supervisor's decision on a conflict is in the file, by whom and when."""
    a = fact("uuid:a", 10, fields={"water_safe": "no"}, base=2, update=True)
    b = fact("uuid:b", 20, fields={"water_safe": "yes"}, base=2, update=True)
    key = conflict_key("H1", "water_safe", 2, ["uuid:a", "uuid:b"])
    at = T0 + dt.timedelta(hours=2)
    record = fold(Baseline("H1", "已脱贫", []), [a, b], [Resolution(key, "water_safe", "no", "sup", at)], RULES,
                  TODAY)
    assert record.events[-1] == {"at": "2026-01-01T02:00:00+00:00", "kind": "conflict_resolved", "by": "sup",
                                 "summary": {"field": "water_safe", "value": "no", "conflict": key}}
    assert record.value("water_safe") == "no"


def test_a_resolution_at_the_same_time_as_an_observation_comes_after_it():
    """DOMAIN.md:56-57: a supervisor's resolution is an observation at the time of resolving; at the very same
    time as a submission it is the later of the two (it was made seeing it)."""
    a = fact("uuid:a", 10, fields={"water_safe": "no"}, base=2, update=True)
    b = fact("uuid:b", 20, fields={"water_safe": "yes"}, base=2, update=True)
    key = conflict_key("H1", "water_safe", 2, ["uuid:a", "uuid:b"])
    tie = Resolution(key, "water_safe", "no", "sup", b.observed_at)
    record = fold(Baseline("H1", "已脱贫", []), [a, b], [tie], RULES, TODAY)
    assert record.value("water_safe") == "no" and record.fields["water_safe"]["source"] == "resolution"
