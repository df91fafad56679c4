"""A form's export shape (forms/columns.py) and one submission as rows of it (forms/flatten.py)."""
from __future__ import annotations

import pytest

from forms.columns import export_shape, merge
from forms.compile import compile_xlsform
from forms.flatten import flatten
from support import raised_form, visit_xml

from forms import BUNDLED_DIR

HH = "2105040010010001"


@pytest.fixture(scope="module")
def visit_shape():
    compiled = compile_xlsform((BUNDLED_DIR / "household_visit.xlsx").read_bytes(), "household_visit.xlsx")
    return export_shape(compiled.xform)


def test_every_question_is_a_column_in_the_forms_order_and_a_repeat_a_table(visit_shape):
    names = [c.name for c in visit_shape.main.columns]
    assert names.index("visit_date") < names.index("gps-Latitude") < names.index("two_assurances-food_secure")
    assert [n for n in names if n.startswith("gps-")] == ["gps-Latitude", "gps-Longitude", "gps-Altitude",
                                                          "gps-Accuracy"]
    assert not [n for n in names if n.startswith("meta")]      # the identity is the KEY column
    assert "hh_info" not in names                             # a note holds no answer
    assert "hh_head" in names                                 # a calculation does
    header = {c.name: c.header for c in visit_shape.main.columns}
    assert header["start"] == "开始填写时间 (start)"            # what the device fills in is named too
    assert header["two_assurances-food_secure"].endswith("(two_assurances-food_secure)")
    (repeat,) = visit_shape.repeats
    assert repeat.name == "household_visit-member_change"
    assert [c.name for c in repeat.columns][:2] == ["change_type", "person_name"]


def test_a_submission_becomes_a_main_row_and_keyed_repeat_rows(visit_shape):
    changes = [{"type": "death", "name": "甲"}, {"type": "birth", "name": "乙"}]
    xml = visit_xml(HH, instance_id="uuid:k1", changes=changes, gps="41.5 123.25 90 4.5", food="no")
    main, first, second = flatten(xml, visit_shape, "uuid:k1")
    values = dict(zip((c.name for c in visit_shape.main.columns), main.values))
    assert values["household"] == HH
    assert (values["gps-Latitude"], values["gps-Longitude"], values["gps-Altitude"], values["gps-Accuracy"]) == (
        "41.5", "123.25", "90", "4.5")
    assert values["two_assurances-food_secure"] == "否"
    assert (first.key, first.parent_key, second.key) == ("uuid:k1/member_change[1]", "uuid:k1",
                                                        "uuid:k1/member_change[2]")
    assert [r.values[1] for r in (first, second)] == ["甲", "乙"]
    codes = flatten(xml, visit_shape, "uuid:k1", choice_labels=False)[0].values
    assert dict(zip((c.name for c in visit_shape.main.columns), codes))["two_assurances-food_secure"] == "no"


def test_xml_that_does_not_parse_gives_a_row_with_its_key_only(visit_shape):
    (row,) = flatten(b"<data><broken>", visit_shape, "uuid:bad")
    assert row.key == "uuid:bad" and set(row.values) == {""}


def test_versions_merge_newest_first_keeping_what_only_older_ones_had(tmp_path, visit_shape):
    raised = raised_form(tmp_path, "household_visit", "2099010101", "asked_later")
    newer = export_shape(compile_xlsform(raised.read_bytes(), raised.name).xform)
    merged = merge([newer, visit_shape])
    assert [c.name for c in merged.main.columns][-1] == "asked_later"
    assert merge([visit_shape, newer]).main.columns[-1].name == "asked_later"  # kept from the older one
    assert len(merged.main.columns) == len(visit_shape.main.columns) + 1
