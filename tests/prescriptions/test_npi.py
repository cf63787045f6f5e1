import pytest

from prescriptions.npi import npi_check_digit, npi_is_valid


def test_npi_with_the_cms_example_check_digit_is_valid():
    assert npi_is_valid("1234567893")


def test_npi_with_a_wrong_check_digit_is_invalid():
    assert not npi_is_valid("1234567890")


@pytest.mark.parametrize(
    "npi",
    [
        "",
        "123456789",  # 9 digits
        "12345678931",  # 11 digits
        "12345678a3",  # a letter
        "ABCDEFGHIJ",
        " 1234567893",
        "1234567893\n",
        "١٢٣٤٥٦٧٨٩٣",  # Arabic-Indic digits pass str.isdigit() but are not an NPI
    ],
)
def test_npi_that_is_not_exactly_ten_ascii_digits_is_invalid(npi):
    assert not npi_is_valid(npi)


def test_check_digit_of_the_cms_example_is_3():
    assert npi_check_digit("123456789") == 3


@pytest.mark.parametrize("base", ["123456789", "000000000", "999999999", "192837465"])
def test_an_npi_built_with_the_check_digit_is_valid(base):
    assert npi_is_valid(base + str(npi_check_digit(base)))


def test_any_single_mistyped_digit_makes_an_npi_invalid():
    npi = "1234567893"
    for position in range(10):
        for digit in "0123456789":
            if digit != npi[position]:
                typo = npi[:position] + digit + npi[position + 1 :]
                assert not npi_is_valid(typo), typo


@pytest.mark.parametrize("base", ["12345678", "1234567890", "12345678x"])
def test_check_digit_refuses_anything_but_nine_digits(base):
    with pytest.raises(ValueError):
        npi_check_digit(base)
