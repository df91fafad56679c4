"""ID numbers pinned (issue 14 item 13): mask(), the question names masked, the check digit's arithmetic, birth date
and sex. DOMAIN.md:27 "ID number (身份证号, sensitive)"; GB 11643-1999."""
import datetime as dt

import pytest

from sync.idcard import birth_date, check_digit_ok, is_id_number_question, mask, mask_in_xml, sex


@pytest.mark.parametrize("number, masked", [
    ("210504194707180878", "210504********0878"),  # 18 characters: the region code and the last four
    ("12345678901", "123456*8901"),  # 11: one character hidden
    ("1234567890", "1234567890"),  # 10 or fewer: nothing to hide between the region and the last four
    ("", ""),
])
def test_mask_shows_the_region_and_the_last_four_only(number, masked):
    assert mask(number) == masked


@pytest.mark.parametrize("number", ["110101199003070011", "110101199003070046", "110101199003070070",
                                    "110101199003070089", "11010119900307010X", "110101199003070118",
                                    "110101199003070126", "110101199003070134", "110101199003070142",
                                    "110101199003070150", "110101199003070169"])
def test_every_check_character_is_computed(number):
    """MOD 11-2 over the first 17 digits (weights 7 9 10 5 8 4 2 1 6 3 7 9 10 5 8 4 2): these numbers have the check
    characters 0, 1, 2, 4, 6, 8, 9 and X; the same number with any other check character fails."""
    assert check_digit_ok(number) and check_digit_ok(" " + number.lower() + " ")
    for other in "0123456789X":
        if other != number[-1]:
            assert not check_digit_ok(number[:17] + other)


def test_birth_date_and_sex_from_the_number():
    """Digits 7-14 are the birth date; the 17th is odd for a man, even for a woman."""
    assert birth_date(" 110101199003070046 ") == dt.date(1990, 3, 7)
    assert birth_date("110101199002300046") is None  # 30 February
    assert [sex("110101199003070011"), sex("110101199003070046"), sex("11010119900307010x")] == ["男", "女", "女"]


@pytest.mark.parametrize("name, asked", [
    ("id_number", True), ("spouse_id_number", True), ("member_ID_CARD", True), ("idcard", True),
    ("xid_number", False), ("id_number_note", False), ("card", False)])
def test_the_questions_that_ask_for_an_id_number(name, asked):
    """forms/README.md: `member_change/id_number`, and questions named the same way."""
    assert is_id_number_question(name) is asked


def test_mask_in_xml_masks_answers_of_id_questions_even_when_not_valid_numbers():
    """An answer to an ID-number question is masked even with a wrong check digit; a short answer (10 characters or
    fewer) has nothing to mask; a number that contains another is masked whole; XML that does not parse gives
    nothing away."""
    xml = ("<data id='v'><id_number>110101199003070012</id_number><idcard>1234567890</idcard>"
           "<g><id_number>9110101199003070046</id_number><x>110101199003070046</x></g></data>").encode()
    assert mask_in_xml(xml) == ("<data id='v'><id_number>110101********0012</id_number><idcard>1234567890</idcard>"
                                "<g><id_number>911010*********0046</id_number><x>110101********0046</x></g>"
                                "</data>").encode()
    assert mask_in_xml(b"<data") == b""
    assert mask_in_xml(b"<data id='v'><a>hello world, long text</a></data>") == \
        b"<data id='v'><a>hello world, long text</a></data>"


def test_mask_in_xml_reads_namespaced_questions_and_leaves_groups_and_short_answers():
    """A question in a namespace is named by its local name; an 11-character answer is masked (one character
    hidden); a group's text is not an answer."""
    xml = ('<h:data xmlns:h="http://example/x" id="v"><h:id_number>110101199003070012</h:id_number>'
           "<h:id_card>12345678901</h:id_card><h:idcard>110101199003070012<h:x/></h:idcard></h:data>").encode()
    assert mask_in_xml(xml) == ('<h:data xmlns:h="http://example/x" id="v"><h:id_number>110101********0012'
                                "</h:id_number><h:id_card>123456*8901</h:id_card><h:idcard>110101********0012"
                                "<h:x/></h:idcard></h:data>").encode()
    group = "<data id='v'><idcard>110101199003070012<x/></idcard></data>".encode()
    assert mask_in_xml(group) == group


def test_a_number_inside_a_longer_answer_is_masked_with_the_longer_one_first():
    """Longest first, whatever their order as text: the longer answer sorts before the number it contains when
    compared as text ("0…" < "1…"), and is still masked whole."""
    xml = ("<data id='v'><id_number>0110101199003070046</id_number><x>110101199003070046</x></data>").encode()
    assert mask_in_xml(xml) == ("<data id='v'><id_number>011010*********0046</id_number>"
                                "<x>110101********0046</x></data>").encode()
