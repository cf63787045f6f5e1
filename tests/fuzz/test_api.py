"""The telemedicine intake API fed hostile JSON, always validly signed unless the test is
about signatures.

The properties: never a server error; a 400 names every field it refuses, and only
fields the API knows; no prescription is stored on any answer but 201; what a 201
stores is what was sent.
"""

import json
import time
from datetime import timedelta
from decimal import Decimal

import pytest
from django.core.cache import cache
from django.test import Client
from django.utils import timezone
from hypothesis import assume, event, example, given
from hypothesis import strategies as st

from prescriptions.intake import sign
from prescriptions.models import Prescription, Source, Status
from tests.factories import make_partner, valid_npi
from tests.fuzz.hostile import (
    IMG,
    SCRIPT,
    SQL,
    assert_answer,
    fuzz,
    hostile_text,
    markup_text,
    pin,
    rolled_back,
    short_hostile_text,
    unicode_text,
)

pytestmark = pytest.mark.django_db

URL = "/api/telemedicine/prescriptions/"

# Each leaf the API reads: its kind, and for text its maximum length.
TEXT, DATE, INT, DECIMAL = "text", "date", "int", "decimal"
LEAVES = {
    "prescription_id": (TEXT, 100),
    "patient.email": (TEXT, 254),
    "patient.first_name": (TEXT, 150),
    "patient.last_name": (TEXT, 150),
    "patient.date_of_birth": (DATE, None),
    "prescriber.name": (TEXT, 150),
    "prescriber.npi": (TEXT, 50),
    "prescriber.state_license": (TEXT, 50),
    "medication.drug": (TEXT, 100),
    "medication.form": (TEXT, 20),
    "medication.strength": (TEXT, 50),
    "directions.text": (TEXT, 500),
    "directions.units_per_dose": (DECIMAL, None),
    "directions.doses_per_day": (INT, None),
    "quantity": (INT, None),
    "refills": (INT, None),
    "date_written": (DATE, None),
}
OPTIONAL = {"prescriber.state_license", "refills"}
SECTIONS = ("patient", "prescriber", "medication", "directions")
KNOWN_PATHS = {"body", *LEAVES, *SECTIONS}

# Numbers that no leaf accepts, sent as raw JSON tokens (json.dumps cannot write them).
RAW_NUMBERS = (
    "1e309",
    "-1e309",
    "1e-309",
    "1E400",
    "1" + "0" * 30,
    "-1" + "0" * 30,
    "12.345",
    "-10",
)


def valid_payload() -> dict:
    today = timezone.localdate()
    return {
        "prescription_id": "TM-2026-000123",
        "patient": {
            "email": "ada@example.com",
            "first_name": "Ada",
            "last_name": "Lovelace",
            "date_of_birth": "1980-05-17",
        },
        "prescriber": {"name": "Dr. Grace Hopper", "npi": valid_npi(), "state_license": "NY-1"},
        "medication": {"drug": "baclofen", "form": "tablet", "strength": "10 mg"},
        "directions": {
            "text": "Take 1 tablet by mouth three times a day",
            "units_per_dose": 1,
            "doses_per_day": 3,
        },
        "quantity": 90,
        "refills": 2,
        "date_written": str(today - timedelta(days=1)),
    }


def post_signed(partner, raw: bytes, *, secret: str | None = None, timestamp: int | None = None):
    signature = sign(
        secret=partner.secret if secret is None else secret,
        body=raw,
        timestamp=int(time.time()) if timestamp is None else timestamp,
    )
    return Client().post(
        URL,
        raw,
        content_type="application/json",
        HTTP_X_PARTNER=partner.slug,
        HTTP_TELEMEDICINE_SIGNATURE=signature,
    )


def encoded(body, raw_tokens: dict[str, str] | None = None) -> bytes:
    text = json.dumps(body)
    for placeholder, token in (raw_tokens or {}).items():
        text = text.replace(json.dumps(placeholder), token)
    return text.encode()


@pytest.fixture
def partner(db):
    return make_partner(slug="fuzz-telehealth")


def assert_refused(response, *, named=()) -> dict:
    """A 400 that names each refused field, and only fields the API reads."""
    assert response.status_code == 400, response.content[:300]
    assert response["Content-Type"] == "application/json"
    errors = response.json()["errors"]
    assert errors and set(errors) <= KNOWN_PATHS, errors
    assert all(
        isinstance(messages, list) and messages and all(isinstance(m, str) and m for m in messages)
        for messages in errors.values()
    )
    for path in named:
        assert path in errors, (path, errors)
    return errors


# --- payloads: the valid one with some fields replaced, removed or mistyped -------------

json_scalars = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(min_value=-(10**30), max_value=10**30),
    st.floats(allow_nan=False, allow_infinity=False),
    hostile_text,
)
json_values = st.recursive(
    json_scalars,
    lambda children: st.one_of(
        st.lists(children, max_size=3), st.dictionaries(st.text(max_size=8), children, max_size=3)
    ),
    max_leaves=8,
)
WRONG_TYPES = {
    TEXT: st.one_of(
        st.integers(),
        st.booleans(),
        st.floats(allow_nan=False, allow_infinity=False),
        st.lists(st.integers(), max_size=2),
        st.just({"value": "x"}),
    ),
    INT: st.one_of(
        st.sampled_from(["90", "3", "", "ninety"]),
        st.booleans(),
        st.just(90.0),
        st.just(3.5),
        st.just([90]),
        st.just({"n": 90}),
    ),
    DECIMAL: st.one_of(
        st.sampled_from(["1", "0.5", "one"]), st.booleans(), st.just([1]), st.just({})
    ),
    DATE: st.one_of(st.integers(), st.booleans(), st.just([2026, 1, 1]), st.just({"y": 2026})),
    "section": st.one_of(
        unicode_text, st.integers(), st.booleans(), st.lists(st.integers(), max_size=2)
    ),
}
MISSING = object()


def _lookup(body, path: str):
    node = body
    for key in path.split("."):
        if not isinstance(node, dict) or key not in node:
            return MISSING
        node = node[key]
    return node


def _parent(body, path: str):
    head, _, _leaf = path.rpartition(".")
    return _lookup(body, head) if head else body


def _text_near_limit(path: str):
    limit = LEAVES[path][1]
    return st.one_of(
        st.text(st.characters(codec="utf-8"), min_size=limit - 1, max_size=limit + 1),
        st.sampled_from([" " * (limit + 5) + "x", "x" * limit + "   "]),
    )


# Free text the API stores as sent (stripped): any of it is valid within its length.
FREE_TEXT = (
    "prescription_id",
    "patient.first_name",
    "patient.last_name",
    "prescriber.name",
    "prescriber.state_license",
    "directions.text",
)


def _acceptable(path: str):
    limit = LEAVES[path][1]
    return st.one_of(markup_text, short_hostile_text).filter(
        lambda s: s.strip() and "\x00" not in s and len(s.strip()) <= limit
    )


@st.composite
def mutated_payloads(draw):
    """(body, raw tokens, mutations that must be named in a 400).

    Free-text fields first get values the API must accept, so that some examples are
    stored (201) with hostile text; then up to three more mutations of any field.
    """
    body, raw_tokens, must_name = valid_payload(), {}, []
    for path in draw(st.lists(st.sampled_from(FREE_TEXT), max_size=3, unique=True)):
        section, _, leaf = path.rpartition(".")
        (body[section] if section else body)[leaf] = draw(_acceptable(path))
    for _ in range(draw(st.integers(0, 3))):
        path = draw(st.sampled_from([*LEAVES, *SECTIONS]))
        parent = _parent(body, path)
        if not isinstance(parent, dict):
            continue
        leaf = path.rpartition(".")[2]
        kind = LEAVES[path][0] if path in LEAVES else "section"
        action = draw(st.sampled_from(["set", "delete", "wrong_type", "raw_number"]))
        if action == "set":
            options = [json_values, hostile_text]
            if kind == TEXT:
                options.append(_text_near_limit(path))
            parent[leaf] = draw(st.one_of(*options))
        elif action == "delete":
            parent.pop(leaf, None)
            if path not in OPTIONAL:
                must_name.append((path, MISSING))
        elif action == "wrong_type":
            parent[leaf] = value = draw(WRONG_TYPES[kind])
            must_name.append((path, value))
        else:
            placeholder = f"__raw_{len(raw_tokens)}__"
            raw_tokens[placeholder] = draw(st.sampled_from(RAW_NUMBERS))
            parent[leaf] = placeholder
            must_name.append((path, placeholder))
    # Only what is still in the body, under an intact parent, must be named.
    named = [
        path
        for path, value in must_name
        if isinstance(_parent(body, path), dict) and _lookup(body, path) is value
    ]
    return body, raw_tokens, named


def _names_fit_the_column(body) -> bool:
    """Pinned by test_api_stores_a_prescription_for_the_longest_names."""
    first, last = _lookup(body, "patient.first_name"), _lookup(body, "patient.last_name")
    if not (isinstance(first, str) and isinstance(last, str)):
        return True
    first, last = first.strip(), last.strip()
    return not (len(first) <= 150 and len(last) <= 150 and len(first) + len(last) + 1 > 300)


def _check_stored(prescription: Prescription, body: dict, partner) -> None:
    patient, prescriber = body["patient"], body["prescriber"]
    directions = body["directions"]
    assert prescription.partner == partner
    assert prescription.source == Source.TELEMEDICINE
    assert prescription.status == Status.SUBMITTED
    assert prescription.partner_reference == body["prescription_id"].strip()
    assert prescription.patient_email == patient["email"].strip().lower()
    assert prescription.patient_name == (
        f"{patient['first_name'].strip()} {patient['last_name'].strip()}".strip()
    )
    assert str(prescription.patient_date_of_birth) == patient["date_of_birth"].strip()
    assert prescription.prescriber_name == prescriber["name"].strip()
    assert prescription.prescriber_npi == prescriber["npi"].strip()
    assert prescription.prescriber_license == (prescriber.get("state_license") or "").strip()
    assert prescription.formulation.drug.slug == "baclofen"
    assert prescription.directions == directions["text"].strip()
    assert prescription.units_per_dose == Decimal(str(directions["units_per_dose"]))
    assert prescription.doses_per_day == directions["doses_per_day"]
    assert prescription.quantity == body["quantity"]
    assert prescription.refills == (body.get("refills") or 0)
    assert str(prescription.date_written) == body["date_written"].strip()
    assert prescription.expiry_date == prescription.date_written + timedelta(days=365)


@pytest.mark.slow
@fuzz(120)
@given(case=mutated_payloads())
@example(case=(valid_payload(), {}, []))
@example(
    case=(
        {
            **valid_payload(),
            "prescription_id": SCRIPT,
            "patient": {**valid_payload()["patient"], "first_name": IMG, "last_name": SQL},
        },
        {},
        [],
    )
)
def test_api_answers_201_or_400_naming_every_refused_field(partner, baclofen, case):
    body, raw_tokens, named = case
    assume(_names_fit_the_column(body))
    with rolled_back():
        cache.clear()  # a signature is refused the second time it is seen
        before = Prescription.objects.count()
        response = post_signed(partner, encoded(body, raw_tokens))
        assert_answer(response)
        event(f"answer {response.status_code}")
        if response.status_code != 201:
            assert_refused(response, named=named)
            assert Prescription.objects.count() == before
            return
        assert not named
        assert response.json()["duplicate"] is False
        assert Prescription.objects.count() == before + 1
        _check_stored(Prescription.objects.get(pk=response.json()["id"]), body, partner)


@fuzz(60)
@given(body=json_values)
@example(body=[valid_payload()])
@example(body={})
@example(body=None)
@example(body="{}")
def test_api_answers_400_to_any_json_that_is_not_a_prescription(partner, baclofen, body):
    with rolled_back():
        cache.clear()
        response = post_signed(partner, json.dumps(body).encode())
        assert_answer(response)
        assert_refused(response)
        assert not Prescription.objects.exists()


@fuzz(40)
@given(raw=st.binary(max_size=200))
@example(raw=b"")
@example(raw=b"[" * 100_000)
@example(raw=b'{"a": 1, "a": 2}')
@example(raw=b"NaN")
@example(raw=b'{"quantity": Infinity}')
@example(raw=b"\xff\xfe{}")
@example(raw="\ufeff{}".encode())
@example(raw=b'{"quantity": ' + b"9" * 5000 + b"}")
@example(raw=json.dumps({"x": "\x00"}).encode())
def test_api_answers_400_to_bytes_that_are_not_a_json_object(partner, baclofen, raw):
    with rolled_back():
        cache.clear()
        response = post_signed(partner, raw)
        assert_answer(response)
        assert_refused(response)
        assert not Prescription.objects.exists()


# --- signatures ---------------------------------------------------------------------

# What gunicorn lets through in a header value: tab, printable ASCII, Latin-1 (it refuses
# the other control characters, NUL included, before Django sees the request).
header_text = st.text(
    st.characters(min_codepoint=0x20, max_codepoint=0xFF, exclude_characters="\x7f")
    | st.just("\t"),
    max_size=120,
)


@fuzz(40)
@given(
    attack=st.sampled_from(
        ["header", "other_secret", "stale", "future", "unknown_partner", "inactive", "replay"]
    ),
    header=header_text,
    seconds=st.integers(1, 10**9),
)
@example(attack="header", header="t=1,v1=" + "0" * 64, seconds=1)
@example(attack="header", header="t=" + "9" * 15 + ",v1=" + "a" * 64, seconds=1)
def test_api_refuses_requests_not_signed_by_the_partner(partner, baclofen, attack, header, seconds):
    raw = encoded(valid_payload())
    now = int(time.time())
    with rolled_back():
        cache.clear()
        if attack == "header":
            response = Client().post(
                URL,
                raw,
                content_type="application/json",
                HTTP_X_PARTNER=partner.slug,
                HTTP_TELEMEDICINE_SIGNATURE=header,
            )
        elif attack == "other_secret":
            response = post_signed(partner, raw, secret=make_partner().secret)
        elif attack == "stale":
            response = post_signed(partner, raw, timestamp=now - 301 - seconds)
        elif attack == "future":
            response = post_signed(partner, raw, timestamp=now + 5 + seconds)
        elif attack == "unknown_partner":
            assume(header != partner.slug)
            signature = sign(secret=partner.secret, body=raw, timestamp=now)
            response = Client().post(
                URL,
                raw,
                content_type="application/json",
                HTTP_X_PARTNER=header,
                HTTP_TELEMEDICINE_SIGNATURE=signature,
            )
        elif attack == "inactive":
            response = post_signed(make_partner(active=False), raw)
        else:
            assert post_signed(partner, raw, timestamp=now).status_code == 201
            response = post_signed(partner, raw, timestamp=now)
        assert_answer(response)
        assert response.status_code == 401
        assert set(response.json()) == {"error"}
        assert Prescription.objects.count() == (1 if attack == "replay" else 0)


# --- known bugs -----------------------------------------------------------------------

# Leaves whose text reaches a database query or row when it is otherwise valid.
STORED_TEXT = [
    "prescription_id",
    "patient.first_name",
    "patient.last_name",
    "prescriber.name",
    "prescriber.state_license",
    "medication.drug",
    "directions.text",
]


@pin(10)
@given(
    path=st.sampled_from(STORED_TEXT),
    surrogate=st.integers(0xD800, 0xDFFF).map(chr),
    around=st.text(st.characters(codec="ascii", categories=["L"]), min_size=1, max_size=5),
)
def test_api_refuses_a_lone_surrogate_with_a_400(partner, baclofen, path, surrogate, around):
    body = valid_payload()
    parent = _parent(body, path)
    parent[path.rpartition(".")[2]] = around + surrogate + around
    with rolled_back():
        cache.clear()
        response = post_signed(partner, json.dumps(body).encode())  # ensure_ascii: "\\ud800"
        assert_refused(response, named=[path])
        assert not Prescription.objects.exists()


@pin(5)
@given(first=st.integers(148, 150), last=st.integers(148, 150))
def test_api_stores_a_prescription_for_the_longest_names(partner, baclofen, first, last):
    assume(first + last + 1 > 300)
    body = valid_payload()
    body["patient"].update(first_name="F" * first, last_name="L" * last)
    with rolled_back():
        cache.clear()
        response = post_signed(partner, encoded(body))
        assert response.status_code == 201
