"""Hostile input for the fuzz tests, the settings they run under, and the checks every
answer must pass.

Every test runs each example inside a savepoint that is rolled back (`rolled_back`), so
examples cannot see each other's rows and a test's counts before and after an example
are about that example alone.
"""

import os
from collections.abc import Iterator
from contextlib import contextmanager

from allauth.account.models import EmailAddress
from django.conf import settings as django_settings
from django.contrib.auth import get_user_model
from django.db import transaction
from hypothesis import HealthCheck, Phase, settings
from hypothesis import strategies as st

from catalog.models import Package
from orders.models import DeliveryAddress, Order
from prescriptions.models import (
    MedicalProfile,
    Prescription,
    PrescriptionDocument,
    StatusChange,
)

_ENGINE = django_settings.DATABASES["default"]["ENGINE"]
ON_POSTGRES = "postgresql" in _ENGINE
ON_SQLITE = "sqlite3" in _ENGINE

# Deterministic in CI: the same examples on every run, nothing read from or written to
# an example database. FUZZ_SCALE=10 runs ten times the examples for a deeper local run.
_SCALE = int(os.environ.get("FUZZ_SCALE", "1"))
FUZZ = settings(
    deadline=None,
    derandomize=True,
    database=None,
    print_blob=False,
    suppress_health_check=[
        HealthCheck.function_scoped_fixture,
        HealthCheck.too_slow,
        HealthCheck.data_too_large,
        HealthCheck.large_base_example,
        HealthCheck.filter_too_much,
    ],
)


def fuzz(max_examples: int) -> settings:
    return settings(FUZZ, max_examples=max_examples * _SCALE)


def pin(max_examples: int) -> settings:
    """For a test that pins a known bug (xfail): stop at the first failing example instead
    of spending a minute shrinking an input that the reason already describes."""
    return settings(
        FUZZ,
        max_examples=max_examples,
        phases=[Phase.explicit, Phase.generate],
        report_multiple_bugs=False,
    )


# What an attacker types; none of it may ever reach a page unescaped.
SCRIPT = "<script>alert(1)</script>"
IMG = '"><img src=x onerror=alert(1)>'
SQL = "'; DROP TABLE orders_order; --"
MARKUP = (SCRIPT, IMG, SQL, "<svg onload=alert(1)>", "javascript:alert(1)", "</textarea><b>x</b>")
# Substrings that appear in a page only if one of the strings above went out raw.
RAW_MARKERS = ("<script>alert(1)", "<img src=x onerror", "<svg onload", "</textarea><b>x</b>")

TRICKY = (
    "",
    " ",
    "\t \n",
    "\x00",
    "a\x00b",
    "\x01\x02\x1b[31m\x7f",
    "\u202egpj.exe",  # right-to-left override: reads "exe.jpg"
    "\u200f\u200e\u061c",  # RTL, LTR and Arabic letter marks
    "\ufeff",
    "\u00a0\u2028\u2029",
    "😀",
    "👩🏽\u200d⚕️",
    "Ω≈ç√∫ ŰŒ ﷺ 𝕳",
    "\r\n\r\n",
    "%00",
    "%s%n%x",
    "{{ 7|add:7 }}{% now 'Y' %}",
    "null",
    "None",
    "[]",
    "{}",
    "../../etc/passwd",
    "\\x00\\u0000",
    "'\"`;--",
)
NUMBERS = (
    "0",
    "-0",
    "-1",
    "1",
    "3",
    " 3 ",
    "+3",
    "3.0",
    "3.5",
    "1,5",
    "20",
    "21",
    "1_000",
    "0x10",
    "１２",  # fullwidth digits
    "٣",  # Arabic-Indic three
    "2147483647",
    "2147483648",
    "9223372036854775807",
    "-9223372036854775808",
    str(10**30),
    str(-(10**30)),
    "1e309",
    "-1e309",
    "1e-309",
    "NaN",
    "Infinity",
    "-Infinity",
    "0.1",
    "499.9",
    "500",
    "500.1",
    "0.05",
)
OVERSIZED = (
    "A" * 10_240,
    SCRIPT * 420,
    "😀" * 3_000,
    ("\u202e" + "x" * 99) * 110,
)

BIGINT = 2**63 - 1

# Any Unicode a browser can send: everything but lone surrogates, which UTF-8 cannot encode.
unicode_text = st.text(st.characters(codec="utf-8"), max_size=40)
# What a person might type on one line: no control or format characters.
printable_text = st.text(
    st.characters(codec="utf-8", exclude_categories=["Cc", "Cf", "Cs", "Zl", "Zp"]),
    max_size=30,
)


def _joined(parts: list[str]) -> str:
    return "".join(parts)


short_hostile_text = st.one_of(
    st.sampled_from(MARKUP + TRICKY + NUMBERS),
    unicode_text,
    st.lists(st.one_of(st.sampled_from(MARKUP + TRICKY), unicode_text), min_size=2, max_size=4).map(
        _joined
    ),
)
hostile_text = st.one_of(short_hostile_text, st.sampled_from(OVERSIZED))
hostile_number = st.one_of(
    st.sampled_from(NUMBERS),
    st.integers(min_value=-(10**31), max_value=10**31).map(str),
    st.floats(allow_nan=True, allow_infinity=True).map(repr),
)
hostile_value = st.one_of(hostile_text, hostile_number)

# Markup with a random Unicode neighbourhood, for the pages that show a stored string.
markup_text = st.tuples(printable_text, st.sampled_from(MARKUP), printable_text).map(_joined)


def beyond_bigint(value: str) -> bool:
    """A number no database integer column can hold (the SQLite overflow bug's trigger)."""
    try:
        return abs(int(value.strip())) > BIGINT
    except ValueError:
        return False


@contextmanager
def rolled_back() -> Iterator[None]:
    """One example's rows live in a savepoint that is always rolled back."""
    with transaction.atomic():
        yield
        transaction.set_rollback(True)


def body_of(response) -> str:
    return response.content.decode("utf-8", errors="replace")


def assert_answer(response) -> str:
    """Never a server error, never raw markup in a page; returns the body.

    JSON answers (the API echoes a partner's own ids) are not pages: served as
    application/json with nosniff, no browser runs what they hold.
    """
    assert response.status_code < 500, (response.status_code, body_of(response)[:500])
    body = body_of(response)
    if response.get("Content-Type", "").startswith("text/html"):
        for marker in RAW_MARKERS:
            assert marker not in body, f"raw {marker!r} in the page"
    return body


def snapshot() -> dict:
    """Every row a form on the site can change, to compare before and after an answer."""
    user_model = get_user_model()
    return {
        "users": list(
            user_model.objects.order_by("pk").values_list(
                "pk", "email", "first_name", "last_name", "last_login"
            )
        ),
        "email_addresses": EmailAddress.objects.count(),
        "prescriptions": list(
            Prescription.objects.order_by("pk").values_list(
                "pk", "status", "patient_note", "units_used", "patient_id", "pharmacist_message"
            )
        ),
        "documents": PrescriptionDocument.objects.count(),
        "status_changes": StatusChange.objects.count(),
        "profiles": list(MedicalProfile.objects.order_by("pk").values()),
        "profile_classes": list(
            MedicalProfile.medication_classes.through.objects.order_by("pk").values_list(
                "medicalprofile_id", "medicationclass_id"
            )
        ),
        "profile_allergies": list(
            MedicalProfile.hypersensitive_to.through.objects.order_by("pk").values_list(
                "medicalprofile_id", "drug_id"
            )
        ),
        "profile_history": MedicalProfile.history.count(),
        "orders": Order.objects.count(),
        "addresses": list(DeliveryAddress.objects.order_by("pk").values()),
        "stock": list(Package.objects.order_by("pk").values_list("pk", "stock")),
    }


def stored_files(root) -> int:
    return sum(1 for p in root.rglob("*") if p.is_file()) if root.exists() else 0
