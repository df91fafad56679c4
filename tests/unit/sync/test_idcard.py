"""ID numbers (GB 11643): DOMAIN.md "Members: … ID number (身份证号, sensitive)"."""
import datetime as dt

import pytest

from sync.idcard import birth_date, check_digit_ok, mask, mask_in_xml, sex


@pytest.mark.parametrize("number", ["210504194707180878", "21050419270224559X", "21050419270224559x"])
def test_valid_numbers_from_the_sample_roster(number):
    assert check_digit_ok(number)


@pytest.mark.parametrize("number", ["210504194707180879", "21050419470718087", "2105041947071808780",
                                    "21050419470718087A", ""])
def test_wrong_check_digit_or_shape_is_refused(number):
    assert not check_digit_ok(number)


def test_birth_date_and_sex_come_from_the_number():
    assert birth_date("210504194707180878") == dt.date(1947, 7, 18)
    assert sex("210504194707180878") == "男"
    assert birth_date("210504194713320878") is None


def test_mask_in_xml_masks_id_number_answers_and_nothing_else():
    xml = ('<data id="v"><member_change><person_name>王五</person_name><id_number>210504194707180878</id_number>'
           '</member_change><member_change><spouse_id_number>21050419270224559X</spouse_id_number></member_change>'
           '<phone>13800138000</phone><count>12345678901234567890</count></data>').encode()
    masked = mask_in_xml(xml)
    assert b"210504194707180878" not in masked and b"21050419270224559X" not in masked
    assert mask("210504194707180878").encode() in masked and mask("21050419270224559X").encode() in masked
    assert masked.replace(mask("210504194707180878").encode(), b"210504194707180878").replace(
        mask("21050419270224559X").encode(), b"21050419270224559X") == xml  # the rest is byte for byte the same


def test_mask_in_xml_finds_a_valid_id_number_under_any_question_name():
    masked = mask_in_xml("<data id='v'><other_document>210504194707180878</other_document></data>".encode())
    assert masked == f"<data id='v'><other_document>{mask('210504194707180878')}</other_document></data>".encode()
