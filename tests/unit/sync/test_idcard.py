"""ID numbers (GB 11643): DOMAIN.md "Members: … ID number (身份证号, sensitive)"."""
import datetime as dt

import pytest

from sync.idcard import birth_date, check_digit_ok, sex


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
