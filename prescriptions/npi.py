"""The National Provider Identifier check digit (CMS rule).

An NPI is 10 digits whose last digit is a Luhn check digit computed as if the number
were prefixed with "80840", the health-industry card issuer prefix. Checking it
catches a mistyped prescriber number before a pharmacist spends time on the
prescription; it does not prove that the number was ever issued.
"""

import re

NPI_PREFIX = "80840"
_NPI_PATTERN = re.compile(r"[0-9]{10}")
_BASE_PATTERN = re.compile(r"[0-9]{9}")


def npi_check_digit(first_nine: str) -> int:
    """The digit that makes `first_nine` a valid NPI; demo data and tests build NPIs with it."""
    if not _BASE_PATTERN.fullmatch(first_nine):
        raise ValueError(f"An NPI starts with 9 digits, not {first_nine!r}.")
    total = 0
    # Luhn: from the rightmost digit of the payload, every other digit is doubled,
    # starting with the rightmost (the check digit will sit to its right).
    for position, char in enumerate(reversed(NPI_PREFIX + first_nine)):
        digit = int(char)
        if position % 2 == 0:
            digit *= 2
            if digit > 9:
                digit -= 9
        total += digit
    return (10 - total % 10) % 10


def npi_is_valid(npi: str) -> bool:
    # ASCII digits only: str.isdigit() would accept "²" or Arabic-Indic digits.
    if not _NPI_PATTERN.fullmatch(npi):
        return False
    return npi_check_digit(npi[:9]) == int(npi[9])
