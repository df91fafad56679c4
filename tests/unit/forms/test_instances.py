"""Instances filled from the compiled forms (forms/instances.py): the form's own id, version and shape, values by
path, repeats as lists, and a loud failure for anything the form does not have."""
import xml.etree.ElementTree as ET

import pytest

from forms import BUNDLED_DIR
from forms.compile import compile_xlsform
from forms.instances import bundled, template
from support import raised_form, xlsform
from sync.instance import parse_instance

FORM_IDS = ["household_visit", "housing_assessment", "income_survey"]


def parsed(xml: bytes) -> ET.Element:
    return ET.fromstring(xml)


def texts(root: ET.Element, path: str) -> list[str | None]:
    return [element.text for element in root.findall(path)]


@pytest.mark.parametrize("form_id", FORM_IDS)
def test_the_root_carries_the_id_and_version_of_the_compiled_form(form_id):
    compiled = compile_xlsform((BUNDLED_DIR / f"{form_id}.xlsx").read_bytes(), f"{form_id}.xlsx")
    root = parsed(bundled(form_id).fill())
    assert (root.tag, root.get("id"), root.get("version")) == ("data", form_id, compiled.version)
    assert bundled(form_id).version == compiled.version


def test_values_land_at_their_paths_and_everything_else_stays_empty():
    root = parsed(bundled("household_visit").fill({"household": "H1", "two_assurances/food_secure": "yes",
                                                   "two_assurances/children_6_15": 2, "remarks": None}))
    assert texts(root, "household") == ["H1"]
    assert texts(root, "two_assurances/food_secure") == ["yes"]
    assert texts(root, "two_assurances/children_6_15") == ["2"]
    # every question of the form is there, unanswered ones empty, as Collect sends them
    assert texts(root, "hh_label") == [None] and texts(root, "remarks") == [None]
    assert texts(root, "two_assurances/clothing_secure") == [None]


def test_text_is_escaped_and_reads_back_as_given():
    root = parsed(bundled("household_visit").fill({"remarks": "a < b & \"c\" 住院"}))
    assert texts(root, "remarks") == ["a < b & \"c\" 住院"]


def test_a_repeat_gets_one_instance_per_dict_in_order_and_none_when_not_given():
    changes = [{"change_type": "birth", "person_name": "小宝"}, {"change_type": "death", "person_name": "老李",
                                                                  "relation": "father"}]
    root = parsed(bundled("household_visit").fill({"member_change": changes}))
    assert texts(root, "member_change/change_type") == ["birth", "death"]
    assert texts(root, "member_change/relation") == [None, "father"]
    assert [len(m) for m in root.findall("member_change")] == [5, 5]  # unset questions of a repeat stay, empty
    assert root.findall("member_change[@{http://openrosa.org/javarosa}template]") == []
    assert parsed(bundled("household_visit").fill()).findall("member_change") == []


@pytest.mark.parametrize("values, message", [
    ({"two_assurances/food_sekure": "yes"}, "no question at 'two_assurances/food_sekure'"),
    ({"househld": "H1"}, "no question at 'househld'"),
    ({"two_assurances": "yes"}, "'two_assurances' is a group"),
    ({"household/number": "H1"}, "'household' is not a group"),
    ({"member_change": "birth"}, "'member_change' is a repeat"),
    ({"member_change": 2}, "'member_change' is a repeat"),
    ({"member_change/change_type": "birth"}, "'member_change' is not a group"),
    ({"member_change": [{"change_typ": "birth"}]}, "no question at 'member_change[0]/change_typ'"),
])
def test_a_path_the_form_does_not_have_raises(values, message):
    with pytest.raises(ValueError, match=message.replace("[", r"\[").replace("]", r"\]")):
        bundled("household_visit").fill(values)


def test_meta_ids_and_name_are_settable_and_the_deprecated_id_only_appears_when_given():
    values = {"meta/instanceID": "uuid:new", "meta/instanceName": "郝福 2026-11-20"}
    for first in (bundled("housing_assessment").fill(values),
                  bundled("housing_assessment").fill({**values, "meta/deprecatedID": None})):
        assert [child.tag for child in parsed(first).find("meta")] == ["entity", "instanceID", "instanceName"]
    edited = parsed(bundled("housing_assessment").fill({**values, "meta/deprecatedID": "uuid:old"}))
    assert [(c.tag, c.text) for c in edited.find("meta")][1:] == [
        ("instanceID", "uuid:new"), ("deprecatedID", "uuid:old"), ("instanceName", "郝福 2026-11-20")]


def test_entity_attributes_are_settable_and_the_rest_stay_as_pyxform_emits_them():
    xml = bundled("income_survey").fill({"meta/instanceID": "uuid:x", "household": "H9"},
                                        entity={"id": "H9", "baseVersion": 3, "update": 0, "branchId": None})
    entity = parsed(xml).find("meta/entity")
    assert entity.attrib == {"dataset": "households", "id": "H9", "update": "0", "baseVersion": "3",
                             "trunkVersion": "", "branchId": ""}
    instance = parse_instance(xml)  # what the server reads of it
    assert (instance.xml_form_id, instance.instance_id, instance.household_number) == ("income_survey", "uuid:x", "H9")
    assert instance.version == bundled("income_survey").version


def test_the_submission_root_declares_the_namespaces_collect_declares():
    xml = bundled("household_visit").fill().decode("utf-8")
    assert xml.startswith('<data xmlns:jr="http://openrosa.org/javarosa" xmlns:orx="http://openrosa.org/xforms" '
                          'xmlns:entities="http://www.opendatakit.org/xforms/entities" id="household_visit"')


def test_an_unknown_entity_attribute_or_a_form_without_entity_raises(tmp_path):
    with pytest.raises(ValueError, match="no attribute 'base_version'"):
        bundled("household_visit").fill(entity={"base_version": 1})
    plain = tmp_path / "test_visit.xlsx"
    plain.write_bytes(xlsform())
    with pytest.raises(ValueError, match="declares no entity"):
        template(plain).fill(entity={"id": "H1"})


def test_a_raised_version_and_a_new_question_change_that_form_only(tmp_path):
    before = {form_id: bundled(form_id).fill({"meta/instanceID": "uuid:1"}) for form_id in FORM_IDS}
    raised = template(raised_form(tmp_path, "household_visit", "2099010101", "new_question"))
    assert (raised.form_id, raised.version) == ("household_visit", "2099010101")
    root = parsed(raised.fill({"new_question": "答案", "two_assurances/food_secure": "yes"}))
    assert root.get("version") == "2099010101"
    assert texts(root, "new_question") == ["答案"] and texts(root, "two_assurances/food_secure") == ["yes"]
    # the bundled forms, the visit's included, are what they were
    assert {form_id: bundled(form_id).fill({"meta/instanceID": "uuid:1"}) for form_id in FORM_IDS} == before
    with pytest.raises(ValueError, match="no question at 'new_question'"):
        bundled("household_visit").fill({"new_question": "答案"})


def test_a_changed_file_is_compiled_again(tmp_path):
    path = raised_form(tmp_path, "income_survey", "2099010101", "first")
    assert template(path).version == "2099010101"
    raised_form(tmp_path, "income_survey", "2099010102", "second")
    assert template(path).version == "2099010102"
    assert template(path).fill({"second": "x"})
