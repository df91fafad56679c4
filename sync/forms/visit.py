"""入户走访 household_visit: the door-to-door visit (两不愁三保障, drinking water, the signs, member changes).

Its entries are the household's visits: coverage counts them and sync/evidence.py judges them by their GPS at the
door and photos. forms/README.md describes the questions.
"""
from __future__ import annotations

from xml.etree.ElementTree import Element

from sync.forms.base import (YES_NO_VALUES, Detail, Evidence, Field, FormDefinition, Reading, Text, keep_every,
                             put)
from sync.instance import local
from sync.values import GRADES, MAX_COUNT, YES_NO, Reader

FORM_ID = "household_visit"
ASSURANCES = ("food_secure", "clothing_secure", "education_secure", "medical_secure")
WATER_INDICATORS = ("water_quantity", "water_quality", "water_convenience", "water_reliability")
PROBLEMS = ("none", "food", "clothing", "education", "medical", "housing", "water", "signs", "income", "illness",
            "disaster", "employment", "schooling_cost", "disability", "unsold", "policy", "safety_net", "other")
#: 走访结果: only "visited" is a visit; nobody home or unreachable is an attempt (DOMAIN.md Precisions: "A visit is
#: not help … counts as an attempt, not a visit"). A submission of an older version, without the question, is a visit
VISITED = "visited"
OUTCOMES = (VISITED, "not_home", "lost_contact")
#: 慢病签约: "no" only when a chronic or special-disease patient at home and willing is not signed up (DOMAIN.md
#: Precisions: Medical, 004); "na" no such patient, "not_required" the patient is away or unwilling
CHRONIC = ("yes", "no", "na", "not_required")
#: 帮扶措施: concrete measures, never gifts (DOMAIN.md Precisions: "A visit is not help", 004)
HELP = ("job", "aid", "housing", "industry", "policy", "other")
#: 供水方式, counted for 自来水普及率 (tap) and 集中供水率 (central) (DOMAIN.md Precisions: Water, 000)
WATER_SOURCES = ("central_tap", "central", "scattered_tap", "scattered")
TAP_WATER = ("central_tap", "scattered_tap")
CENTRAL_WATER = ("central_tap", "central")
#: 危房改造进度 seen at the door (from version 2026120701, asked when the household's list row has a renovation state:
#: its house is on the renovation ledger): the ledger's stages (sync/renovation.py STAGES), read there like an
#: assessment's progress
RENOVATION_STAGES = ("planned", "building", "finished", "moved_in", "old_dealt")
CHANGE_TYPES = ("birth", "death", "marriage_in", "marriage_out", "moved_out", "moved_in")
#: the member-change repeat and its questions
CHANGES = "member_change"

FIELDS = {
    "last_visit": Field(Text("最近走访日期", "Last visit date")),
    "food_secure": Field(Text("不愁吃", "Enough food"), YES_NO_VALUES),
    "clothing_secure": Field(Text("不愁穿", "Enough clothing"), YES_NO_VALUES),
    "education_secure": Field(Text("义务教育有保障", "Compulsory education assured"), YES_NO_VALUES),
    "medical_secure": Field(Text("基本医疗有保障", "Basic medical care assured"), YES_NO_VALUES),
    "housing_safe": Field(Text("住房安全有保障", "Safe housing assured"), YES_NO_VALUES),
    "water_safe": Field(Text("饮水安全有保障", "Safe drinking water assured"), YES_NO_VALUES),
    "housing_grade": Field(Text("住房安全等级", "Housing-safety grade")),
    "water_quantity": Field(Text("水量", "Water quantity"), YES_NO_VALUES),
    "water_quality": Field(Text("水质", "Water quality"), YES_NO_VALUES),
    "water_convenience": Field(Text("用水方便程度", "Water convenience"), YES_NO_VALUES),
    "water_reliability": Field(Text("供水保证率", "Water supply reliability"), YES_NO_VALUES),
    "housing_sign_present": Field(Text("住房安全等级标识牌", "Housing-safety grade sign"), YES_NO_VALUES),
    "water_sign_present": Field(Text("饮水安全标识牌", "Drinking-water safety sign"), YES_NO_VALUES),
    "water_source": Field(Text("供水方式", "Water supply"), {
        "central_tap": Text("集中供水，自来水入户", "Central supply, tap water in the house"),
        "central": Text("集中供水，到供水点取水", "Central supply, fetched from a standpipe"),
        "scattered_tap": Text("分散供水，管道入户", "Own source, piped into the house"),
        "scattered": Text("分散供水，人力取水", "Own source, fetched by hand")}),
    # set by the reconciler from the visits' GPS when the house has no confirmed location (sync/evidence.py)
    "proposed_location": Field(Text("建议位置", "Proposed location")),
}

PHOTO_ROLES = {"family": Text("与户内成员合影", "Photo with the family"),
               "housing_sign": Text("住房安全等级标识牌", "Housing-safety grade sign"),
               "water_sign": Text("饮水安全标识牌", "Drinking-water safety sign")}

PATHS = frozenset({
    "visit_date", "visit_outcome", "absent_note", "gps", "photo_family",
    *(f"two_assurances/{name}" for name in (*ASSURANCES, "housing_grade", "house_safe", "renovation_stage",
                                            "children_6_15", "out_of_school", "out_of_school_note", "all_insured",
                                            "not_insured_count", "not_insured_names", "chronic_signed")),
    "water/water_safe", "water/water_source", *(f"water/{name}" for name in WATER_INDICATORS),
    "signs/housing_sign_present", "signs/water_sign_present", "signs/photo_housing_sign", "signs/photo_water_sign",
    "findings/problems", "findings/problems_other", "findings/problems_note", "findings/help_given", "findings/help_other",
    "findings/help_note", "remarks",
    *(f"{CHANGES}/{name}" for name in ("change_type", "person_name", "relation", "change_date", "id_number")),
})


def read(read: Reader, root: Element) -> Reading:
    fields: dict = {}
    visit_date = read.date("visit_date")
    outcome = read.choice("visit_outcome", OUTCOMES) or VISITED
    record = {"date": visit_date, "outcome": outcome, "gps": read.gps("gps")}
    if outcome != VISITED:
        # an attempt observes nothing of the household, not even a visit date: nobody was met
        return fields, {**record, "absent_note": read.text("absent_note"), "photos": {}}, []
    put(fields, "last_visit", visit_date)
    for name in ASSURANCES:
        put(fields, name, read.choice(f"two_assurances/{name}", YES_NO))
    put(fields, "housing_grade", read.choice("two_assurances/housing_grade", GRADES))
    put(fields, "housing_safe", read.choice("two_assurances/house_safe", YES_NO))
    put(fields, "water_safe", read.choice("water/water_safe", YES_NO))
    for name in WATER_INDICATORS:
        put(fields, name, read.choice(f"water/{name}", YES_NO))
    put(fields, "housing_sign_present", read.choice("signs/housing_sign_present", YES_NO))
    put(fields, "water_sign_present", read.choice("signs/water_sign_present", YES_NO))
    water_source = read.choice("water/water_source", WATER_SOURCES)
    put(fields, "water_source", water_source)
    # before version 2026120601 help_given was free text: such a text is kept as the note, not judged as codes
    help_text = read.text("findings/help_given") or ""
    help_given = help_text.split() if set(help_text.split()) <= set(HELP) else []
    record = {
        **record,
        "photos": {"family": read.text("photo_family"), "housing_sign": read.text("signs/photo_housing_sign"),
                   "water_sign": read.text("signs/photo_water_sign")},
        "children_6_15": read.integer("two_assurances/children_6_15", 0, MAX_COUNT),
        "out_of_school": read.integer("two_assurances/out_of_school", 0, MAX_COUNT),
        "out_of_school_note": read.text("two_assurances/out_of_school_note"),
        "all_insured": read.choice("two_assurances/all_insured", YES_NO),
        "not_insured_count": read.integer("two_assurances/not_insured_count", 0, MAX_COUNT),
        "not_insured_names": read.text("two_assurances/not_insured_names"),
        "chronic_signed": read.choice("two_assurances/chronic_signed", CHRONIC), "water_source": water_source,
        "renovation_stage": read.choice("two_assurances/renovation_stage", RENOVATION_STAGES),
        "problems": read.choices("findings/problems", PROBLEMS),
        "problems_note": " ".join(filter(None, (read.text("findings/problems_other"),
                                                read.text("findings/problems_note")))),
        "help_given": help_given, "help_other": read.text("findings/help_other"),
        "help_note": read.text("findings/help_note") or (None if help_given else help_text or None),
        "remarks": read.text("remarks"),
    }
    changes = []
    for element in root:
        if local(element.tag) != CHANGES:
            continue
        item = read.within(element, f"{CHANGES}/")
        change = {"type": item.choice("change_type", CHANGE_TYPES), "name": item.text("person_name", limit=100),
                  "relation": item.text("relation", limit=100), "date": item.date("change_date"),
                  "id_number": (item.text("id_number", limit=18) or "").upper() or None}
        if change["type"]:
            changes.append(change)
    return fields, record, changes


DEFINITION = FormDefinition(
    form_id=FORM_ID, xlsform="household_visit.xlsx", title=Text("入户走访", "Door-to-door visit"),
    date_question="visit_date", paths=PATHS, read=read, fields=FIELDS,
    entity_columns=("last_visit", *ASSURANCES, "housing_safe", "water_safe", "housing_grade"),
    collection="visits", keep=keep_every,
    summary=lambda record: {"date": record.get("date"), "outcome": record.get("outcome", VISITED),
                            "problems": record.get("problems", [])},
    photo_roles=PHOTO_ROLES,
    details=(
        Detail("date", Text("走访日期", "Visit date")),
        Detail("outcome", Text("走访结果", "Outcome"), show="choice", path="visit_outcome"),
        Detail("absent_note", Text("未遇情况说明", "What was found out")),
        Detail("gps", Text("户门口定位", "GPS at the door"), show="gps"),
        Detail("problems", Text("发现的问题", "Problems found"), show="choice", path="findings/problems",
               skip=("none",)),
        Detail("problems_note", Text("问题说明", "Details")),
        Detail("out_of_school_note", Text("失学辍学儿童姓名及原因", "Children out of school: names and reasons")),
        Detail("not_insured_names", Text("未参保人员及原因", "Members not insured: who and why")),
        Detail("help_given", Text("帮扶措施", "Help given"), show="choice", path="findings/help_given"),
        Detail("help_other", Text("其他帮扶措施", "Other measure")),
        Detail("help_note", Text("措施说明", "About the measures")),
        Detail("chronic_signed", Text("慢病患者签约家庭医生", "Chronic patients with a family doctor"), show="choice",
               path="two_assurances/chronic_signed"),
        Detail("water_source", Text("供水方式", "Water supply"), show="field", path="water_source"),
        Detail("renovation_stage", Text("现场看到的危房改造进度", "Renovation stage seen at the house"), show="choice",
               path="two_assurances/renovation_stage"),
        Detail("remarks", Text("备注", "Remarks")),
    ),
    # a visit without the family photo is questionable (DOMAIN.md "Visit coverage"); the signs' photos are judged
    # when they were taken
    evidence=Evidence(photos={"family": Text("与户内成员合影", "photo with the family"),
                              "housing_sign": Text("住房安全等级标识牌照片", "photo of the housing-safety sign"),
                              "water_sign": Text("饮水安全标识牌照片", "photo of the drinking-water sign")},
                      required=("family",)),
)
