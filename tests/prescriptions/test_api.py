"""The telemedicine intake API: signed, idempotent, with each bad field named."""

import json
import time

import pytest
from django.test import Client

from prescriptions.intake import sign
from prescriptions.models import Prescription, Status
from tests.factories import make_partner, make_user_with_verified_email, valid_npi

URL = "/api/telemedicine/prescriptions/"


@pytest.fixture
def partner(db):
    return make_partner(slug="acme-telehealth")


def payload(**overrides) -> dict:
    body = {
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
            "text": "1 tablet three times a day",
            "units_per_dose": 1,
            "doses_per_day": 3,
        },
        "quantity": 90,
        "refills": 2,
        "date_written": time.strftime("%Y-%m-%d"),
    }
    body.update(overrides)
    return body


def post(partner, body: dict | bytes, *, secret=None, timestamp=None, slug=None, headers=None):
    raw = body if isinstance(body, bytes) else json.dumps(body).encode()
    signature = sign(
        secret=secret or partner.secret, body=raw, timestamp=timestamp or int(time.time())
    )
    extra = {"HTTP_X_PARTNER": slug or partner.slug, "HTTP_TELEMEDICINE_SIGNATURE": signature}
    extra.update(headers or {})
    return Client().post(URL, raw, content_type="application/json", **extra)


def test_a_signed_prescription_is_accepted_and_joins_the_patient(partner, baclofen):
    patient = make_user_with_verified_email(
        email="ada@example.com", first_name="Ada", last_name="Lovelace"
    )
    response = post(partner, payload())
    assert response.status_code == 201
    data = response.json()
    assert data["duplicate"] is False
    prescription = Prescription.objects.get(pk=data["id"])
    assert prescription.patient == patient
    assert prescription.status == Status.SUBMITTED
    assert str(prescription.formulation) == "Baclofen 10 mg tablet"
    assert prescription.quantity == 90


def test_the_same_prescription_sent_twice_is_stored_once(partner, baclofen):
    now = int(time.time())
    first = post(partner, payload(), timestamp=now)
    second = post(partner, payload(), timestamp=now - 1)  # the same, signed anew
    assert second.status_code == 200
    assert second.json() == {**first.json(), "duplicate": True}
    assert Prescription.objects.count() == 1


@pytest.mark.parametrize(
    ("change", "field"),
    [
        (
            {"medication": {"drug": "aspirin", "form": "tablet", "strength": "10 mg"}},
            "medication.drug",
        ),
        (
            {"medication": {"drug": "baclofen", "form": "tablet", "strength": "15 mg"}},
            "medication.strength",
        ),
        ({"prescriber": {"name": "Dr. X", "npi": "1234567890"}}, "prescriber.npi"),
        ({"quantity": 0}, "quantity"),
        ({"quantity": 1001}, "quantity"),
        ({"date_written": "2999-01-01"}, "date_written"),
    ],
)
def test_bad_fields_get_400_naming_the_field_and_change_nothing(partner, baclofen, change, field):
    response = post(partner, payload(**change))
    assert response.status_code == 400
    assert field in response.json()["errors"]
    assert not Prescription.objects.exists()


def test_every_bad_field_is_named_at_once(partner, baclofen):
    response = post(partner, payload(quantity=0, refills=99, date_written="not a date"))
    assert {"quantity", "refills", "date_written"} <= set(response.json()["errors"])


def test_invalid_json_is_a_400(partner, baclofen):
    response = post(partner, b"{not json")
    assert response.status_code == 400
    assert "body" in response.json()["errors"]


@pytest.mark.parametrize(
    "tamper",
    [
        {"secret": "tmsec_wrong"},
        # Offsets from the moment of the request: a timestamp taken when the tests are
        # collected is no longer 301 s ahead by the time a slow run reaches this test.
        {"timestamp_offset": -301},
        {"timestamp_offset": 301},
        {"slug": "someone-else"},
        {"headers": {"HTTP_TELEMEDICINE_SIGNATURE": ""}},
        {"headers": {"HTTP_TELEMEDICINE_SIGNATURE": "t=1,v1=abc"}},
    ],
)
def test_unsigned_or_wrongly_signed_requests_get_401_and_change_nothing(partner, baclofen, tamper):
    tamper = dict(tamper)
    if "timestamp_offset" in tamper:
        tamper["timestamp"] = int(time.time()) + tamper.pop("timestamp_offset")
    response = post(partner, payload(), **tamper)
    assert response.status_code == 401
    assert response.json()["error"]
    assert not Prescription.objects.exists()


def test_an_inactive_partner_is_refused(partner, baclofen):
    partner.active = False
    partner.save()
    assert post(partner, payload()).status_code == 401


def test_a_replayed_request_gets_401(partner, baclofen):
    raw = json.dumps(payload(prescription_id="TM-REPLAY")).encode()
    signature = sign(secret=partner.secret, body=raw, timestamp=int(time.time()))
    headers = {"HTTP_X_PARTNER": partner.slug, "HTTP_TELEMEDICINE_SIGNATURE": signature}
    first = Client().post(URL, raw, content_type="application/json", **headers)
    replay = Client().post(URL, raw, content_type="application/json", **headers)
    assert first.status_code == 201
    assert replay.status_code == 401
    assert "Replayed" in replay.json()["error"]
    assert Prescription.objects.count() == 1


def test_only_post_is_allowed(partner, db):
    assert Client().get(URL).status_code == 405
