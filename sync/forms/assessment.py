"""住房安全鉴定 housing_assessment: the house's safety grade (A–D) and, for a C/D house, its renovation.

Its entries are the household's assessments; the newest grade and renovation state are household fields that
the rules read (危房 not yet renovated). forms/README.md describes the questions.
"""
from __future__ import annotations

from xml.etree.ElementTree import Element

from sync.forms.base import (YES_NO_VALUES, Detail, Evidence, Field, FormDefinition, Reading, Text, keep_every,
                             put)
from sync.rules import SAFE_RENOVATION, renovation_progress
from sync.values import GRADES, Reader

FORM_ID = "housing_assessment"
RENOVATION_CODES = ("planned", "building", "finished", "moved_in", "old_dealt")
#: 改造方式 (DOMAIN.md Precisions: renovation modes, 001)
RENOVATION_MODES = ("rebuild", "repair", "relocate", "collective_rental", "public_repair", "swap_lease", "ex_situ",
                    "other")
PARTS = ("foundation", "walls", "roof", "load_bearing")
PHOTOS = ("photo_house", "photo_house_2", "photo_damage", "photo_sign")

RENOVATION_VALUES = {"planned": Text("计划", "Planned"), "building": Text("在建", "Under construction"),
                     "finished": Text("竣工", "Finished"),
                     "moved_in": Text("已入住，旧房未处置", "Moved in, old house not dealt with"),
                     "old_dealt": Text("改造完成（已入住，旧房已处置）", "Finished (moved in, old house dealt with)")}

FIELDS = {
    "housing_assessed": Field(Text("最近鉴定日期", "Last assessment date")),
    "housing_grade": Field(Text("住房安全等级", "Housing-safety grade")),
    "housing_safe": Field(Text("住房安全有保障", "Safe housing assured"), YES_NO_VALUES),
    "renovation_state": Field(Text("危房改造进度", "Renovation progress"), RENOVATION_VALUES),
}

PHOTO_ROLES = {"photo_house": Text("房屋全景", "Whole house"), "photo_house_2": Text("其他角度", "Another side"),
               "photo_damage": Text("损坏部位", "Damage"),
               "photo_sign": Text("住房安全等级标识牌", "Housing-safety grade sign")}

PATHS = frozenset({
    "assess_date", "grade", "gps", "structure", "structure_other", "photos/sign_present",
    *(f"parts/{p}" for p in PARTS), "renovation/renovation_mode", "renovation/renovation_mode_other",
    "renovation/renovation_state", "notes", *(f"photos/{p}" for p in PHOTOS),
})


def read(read: Reader, _root: Element) -> Reading:
    fields: dict = {}
    assess_date = read.date("assess_date")
    put(fields, "housing_assessed", assess_date)
    grade = read.choice("grade", GRADES)
    put(fields, "housing_grade", grade)
    state = read.choice("renovation/renovation_state", RENOVATION_CODES)
    mode = read.choice("renovation/renovation_mode", RENOVATION_MODES)
    dangerous = grade in ("C", "D")
    progress = renovation_progress(state, mode) if dangerous else None
    if grade:
        # read from the answers, not from the form's own calculations, so that a submission of an older version
        # is judged by today's rule; an A/B assessment clears the renovation state: "" is an observed value here
        fields["renovation_state"] = progress or ""
        fields["housing_safe"] = "no" if dangerous and progress != SAFE_RENOVATION else "yes"
    record = {
        "date": assess_date, "grade": grade, "gps": read.gps("gps"),
        "structure": read.text("structure_other") or read.text("structure"),
        "parts": {p: read.text(f"parts/{p}") for p in PARTS},
        "renovation_mode": read.text("renovation/renovation_mode_other") or mode, "renovation_state": progress,
        "sign_present": read.text("photos/sign_present"), "notes": read.text("notes"),
        "photos": {p: read.text(f"photos/{p}") for p in PHOTOS},
    }
    return fields, record, []


DEFINITION = FormDefinition(
    form_id=FORM_ID, xlsform="housing_assessment.xlsx", title=Text("住房安全鉴定", "Housing-safety assessment"),
    date_question="assess_date", paths=PATHS, read=read, fields=FIELDS,
    entity_columns=("housing_assessed", "renovation_state"),
    collection="assessments", keep=keep_every,
    summary=lambda record: {"grade": record.get("grade"), "renovation_state": record.get("renovation_state")},
    photo_roles=PHOTO_ROLES,
    details=(
        Detail("grade", FIELDS["housing_grade"].label),
        Detail("renovation_state", FIELDS["renovation_state"].label, show="field", path="renovation_state"),
        Detail("structure", Text("结构类型", "Structure"), show="choice", path="structure"),
        Detail("notes", Text("鉴定意见", "Assessor's notes")),
    ),
    # judged as evidence too (GPS at the house, photos of the assessment's day): findings, not a verdict
    evidence=Evidence(photos={"photo_house": Text("房屋全景照片", "photo of the whole house"),
                              "photo_house_2": Text("其他角度照片", "photo of another side"),
                              "photo_damage": Text("损坏部位照片", "photo of the damage"),
                              "photo_sign": Text("住房安全等级标识牌照片", "photo of the grade sign")},
                      required=()),
)
