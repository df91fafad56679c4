"""The bundled XLSForms (forms/xlsforms/*.xlsx) compile cleanly with pyxform and carry what the server
and the devices rely on: both languages, GPS with an accuracy rule, photos limited to 1280 px, the
household picked from households.csv and the `households` entity updated through save_to properties
that the published list actually has (see forms/README.md, section "households.csv")."""
from __future__ import annotations

import functools
import re
import shutil
import xml.etree.ElementTree as ET
from pathlib import Path

import pytest
from pyxform.xls2xform import convert

from sync.forms import DEFINITIONS

ROOT = Path(__file__).resolve().parents[3]
FORMS_DIR = ROOT / "forms" / "xlsforms"
README = ROOT / "forms" / "README.md"

XF = "{http://www.w3.org/2002/xforms}"
H = "{http://www.w3.org/1999/xhtml}"
JR = "{http://openrosa.org/javarosa}"
ORX = "{http://openrosa.org/xforms}"
ENT = "{http://www.opendatakit.org/xforms/entities}"

LANGUAGES = {"Chinese (zh)", "English (en)"}

#: what each bundled form must have: its photos (question names), whether GPS is required,
#: and the household properties it writes through save_to
EXPECTED = {
    "household_visit": {
        "title": "入户走访",
        "photos": {"photo_family", "photo_housing_sign", "photo_water_sign"},
        "required_photos": {"photo_family", "photo_housing_sign", "photo_water_sign"},
        "gps_required": True,
        "save_to": {"last_visit", "food_secure", "clothing_secure", "education_secure", "medical_secure",
                    "housing_grade", "housing_safe", "water_safe"},
    },
    "housing_assessment": {
        "title": "住房安全鉴定",
        "photos": {"photo_house", "photo_house_2", "photo_damage", "photo_sign"},
        "required_photos": {"photo_house", "photo_sign"},
        "gps_required": True,
        "save_to": {"housing_assessed", "housing_grade", "housing_safe", "renovation_state"},
    },
    "income_survey": {
        "title": "家庭收入调查",
        "photos": {"photo_ledger"},
        "required_photos": set(),
        "gps_required": False,
        "save_to": {"income_year", "income_per_capita"},
    },
    # sets no household property: it proposes a monitoring case (sync/monitoring.py), its entity update is off
    "monitoring_report": {
        "title": "监测对象识别/帮扶",
        "photos": {"photo"},
        "required_photos": set(),
        "gps_required": False,
        "save_to": set(),
    },
    # 新发现户报告: a household outside the roster, so no household question and no entity update
    "household_report": {
        "title": "新发现户报告",
        "photos": {"photo_house"},
        "required_photos": {"photo_house"},
        "gps_required": True,
        "save_to": set(),
    },
}
FORM_IDS = sorted(EXPECTED)
#: the forms about a registered household (the `household` question, the `households` entity)
HOUSEHOLD_FORM_IDS = sorted(f for f in EXPECTED if DEFINITIONS[f].about_household)


@functools.cache
def compiled(form_id: str):
    warnings: list[str] = []
    result = convert(str(FORMS_DIR / f"{form_id}.xlsx"), warnings=warnings)
    return result, warnings, ET.fromstring(result.xform.encode("utf-8"))


def model(form_id: str) -> ET.Element:
    return compiled(form_id)[2].find(f"{H}head/{XF}model")


def instance_root(form_id: str) -> ET.Element:
    primary = next(i for i in model(form_id).findall(f"{XF}instance") if i.get("id") is None)
    return next(iter(primary))


def root_path(form_id: str) -> str:
    """'/data': the instance root as bind nodesets spell it."""
    return "/" + instance_root(form_id).tag.removeprefix(XF)


def binds(form_id: str) -> dict[str, ET.Element]:
    return {b.get("nodeset"): b for b in model(form_id).iter(f"{XF}bind")}


def bind_named(form_id: str, name: str) -> ET.Element:
    matches = [b for path, b in binds(form_id).items() if path.rsplit("/", 1)[-1] == name]
    assert len(matches) == 1, f"{form_id}: expected one bind for {name}, found {len(matches)}"
    return matches[0]


def documented_versions() -> dict[str, str]:
    """form_id → version, from the table of bundled forms at the top of forms/README.md."""
    rows = re.findall(r"^\|\s*`[^`]+\.xlsx`\s*\|\s*`([^`]+)`\s*\|[^|]*\|[^|]*\|\s*`([^`]+)`\s*\|",
                      README.read_text(encoding="utf-8"), flags=re.MULTILINE)
    return dict(rows)


def documented_columns() -> list[str]:
    """Column names (first cell, in backticks) of the table under '## households.csv' in forms/README.md."""
    text = README.read_text(encoding="utf-8")
    section = text.split("\n## households.csv", 1)[1].split("\n## ", 1)[0]
    return re.findall(r"^\|\s*`([^`]+)`\s*\|", section, flags=re.MULTILINE)


def test_every_bundled_form_is_tested():
    assert sorted(p.stem for p in FORMS_DIR.glob("*.xlsx")) == FORM_IDS


@pytest.mark.parametrize("form_id", FORM_IDS)
def test_compiles_without_warnings(form_id):
    result, warnings, _ = compiled(form_id)
    assert result.xform
    assert warnings == []
    assert result.warnings == []


@pytest.mark.parametrize("form_id", FORM_IDS)
def test_instance_root_carries_form_id_and_the_version_the_readme_lists(form_id):
    # each form has a version of its own (YYYYMMDDnn), raised on every change and kept in forms/README.md's table
    root = instance_root(form_id)
    assert root.get("id") == form_id
    assert re.fullmatch(r"20\d{8}", root.get("version"))
    assert root.get("version") == documented_versions()[form_id]


@pytest.mark.parametrize("form_id", FORM_IDS)
def test_title_is_the_chinese_one_that_collect_lists(form_id):
    # issue 17 item 5: Collect's form list shows the form's one title, so it is Chinese; pages take the title of
    # their language from the form's module
    title = compiled(form_id)[2].find(f"{H}head/{H}title").text
    assert title == EXPECTED[form_id]["title"] == DEFINITIONS[form_id].title.zh
    assert DEFINITIONS[form_id].title.en.isascii()


@pytest.mark.parametrize("form_id", FORM_IDS)
def test_both_languages_with_chinese_as_default(form_id):
    translations = model(form_id).findall(f"{XF}itext/{XF}translation")
    assert {t.get("lang") for t in translations} == LANGUAGES
    default = [t.get("lang") for t in translations if t.get("default") == "true()"]
    assert default == ["Chinese (zh)"]
    # every text id exists in both languages
    ids = [{text.get("id") for text in t.findall(f"{XF}text")} for t in translations]
    assert ids[0] == ids[1]


@pytest.mark.parametrize("form_id", FORM_IDS)
def test_constraint_messages_are_translated(form_id):
    constrained = [b for b in binds(form_id).values() if b.get("constraint")]
    assert constrained
    for b in constrained:
        assert (b.get(f"{JR}constraintMsg") or "").startswith("jr:itext("), b.get("nodeset")


@pytest.mark.parametrize("form_id", FORM_IDS)
def test_meta_fields(form_id):
    b = binds(form_id)
    root = root_path(form_id)
    assert b[f"{root}/start"].get(f"{JR}preload") == "timestamp"
    assert b[f"{root}/end"].get(f"{JR}preload") == "timestamp"
    assert b[f"{root}/today"].get(f"{JR}preload") == "date"
    assert b[f"{root}/deviceid"].get(f"{JR}preloadParams") == "deviceid"
    assert b[f"{root}/username"].get(f"{JR}preloadParams") == "username"
    assert f"{root}/meta/instanceName" in b


@pytest.mark.parametrize("form_id", HOUSEHOLD_FORM_IDS)
def test_household_is_picked_from_households_csv(form_id):
    instances = {i.get("id"): i for i in model(form_id).findall(f"{XF}instance") if i.get("id")}
    assert instances["households"].get("src") in {"jr://file-csv/households.csv", "jr://file/households.csv"}
    household = bind_named(form_id, "household")
    assert household.get("required") == "true()"
    body = compiled(form_id)[2].find(f"{H}body")
    select = next(s for s in body.iter(f"{XF}select1") if s.get("ref") == household.get("nodeset"))
    itemset = select.find(f"{XF}itemset")
    assert itemset.get("nodeset") == "instance('households')/root/item"
    assert itemset.find(f"{XF}value").get("ref") == "name"


@pytest.mark.parametrize("form_id", FORM_IDS)
def test_gps_requires_accuracy(form_id):
    geo = [b for b in binds(form_id).values() if b.get("type") == "geopoint"]
    assert len(geo) == 1
    gps = geo[0]
    assert "selected-at(., 3) <= 50" in gps.get("constraint")
    assert (gps.get("required") == "true()") is EXPECTED[form_id]["gps_required"]
    body = compiled(form_id)[2].find(f"{H}body")
    control = next(c for c in body.iter(f"{XF}input") if c.get("ref") == gps.get("nodeset"))
    assert control.get("accuracyThreshold") == "10"
    assert control.get("unacceptableAccuracyThreshold") == "30"


@pytest.mark.parametrize("form_id", FORM_IDS)
def test_photos_are_limited_to_1280_pixels(form_id):
    images = {path.rsplit("/", 1)[-1]: b for path, b in binds(form_id).items() if b.get("type") == "binary"}
    assert set(images) == EXPECTED[form_id]["photos"]
    for name, b in images.items():
        assert b.get(f"{ORX}max-pixels") == "1280", name
    required = {name for name, b in images.items() if b.get("required") == "true()"}
    assert required == EXPECTED[form_id]["required_photos"]


@pytest.mark.parametrize("form_id", HOUSEHOLD_FORM_IDS)
def test_updates_the_household_entity(form_id):
    assert model(form_id).get(f"{ENT}entities-version") == "2024.1.0"
    entity = instance_root(form_id).find(f"{XF}meta/{XF}entity")
    assert entity is not None
    assert entity.get("dataset") == "households"
    assert entity.get("create") is None
    b = binds(form_id)
    root = root_path(form_id)
    assert b[f"{root}/meta/entity/@id"].get("calculate").strip() == f"{root}/household"
    assert b[f"{root}/meta/entity/@update"].get("calculate")  # update_if
    assert "instance('households')" in b[f"{root}/meta/entity/@baseVersion"].get("calculate")


@pytest.mark.parametrize("form_id", FORM_IDS)
def test_save_to_properties(form_id):
    props = {b.get(f"{ENT}saveto") for b in binds(form_id).values() if b.get(f"{ENT}saveto")}
    assert props == EXPECTED[form_id]["save_to"]


def test_the_report_of_a_household_outside_the_roster_names_no_household():
    b = binds("household_report")
    assert not any(path.endswith("/household") for path in b)
    assert model("household_report").find(f"{XF}instance/{XF}data/{XF}meta/{XF}entity") is None


def test_households_csv_columns_cover_every_save_to_property():
    columns = documented_columns()
    assert columns[:3] == ["name", "label", "__version"]
    assert len(columns) == len(set(columns))
    written = set().union(*(e["save_to"] for e in EXPECTED.values()))
    assert written <= set(columns)
    # properties the forms read from the list on the device
    for form_id in FORM_IDS:
        read = set(re.findall(r"instance\('households'\)/root/item\[[^\]]*\]/(\w+)", compiled(form_id)[0].xform))
        assert read - {"__version", "__trunkVersion", "__branchId"} <= set(columns), form_id


@pytest.mark.skipif(shutil.which("java") is None, reason="ODK Validate needs Java")
@pytest.mark.parametrize("form_id", FORM_IDS)
def test_odk_validate_accepts(form_id):
    convert(str(FORMS_DIR / f"{form_id}.xlsx"), validate=True)
