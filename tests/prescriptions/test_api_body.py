"""The telemedicine API reads only what it was promised: JSON, of a bounded size.

The holes: any Content-Type was accepted (a form post, text/plain), and a body over
DATA_UPLOAD_MAX_MEMORY_SIZE got Django's HTML 400 page instead of an answer a
partner's program can read.
"""

import json
import time

import pytest
from django.test import Client

from prescriptions.intake import sign
from prescriptions.models import Prescription
from tests.factories import make_partner
from tests.prescriptions.test_api import URL, payload


def send(partner, raw: bytes, content_type: str):
    signature = sign(secret=partner.secret, body=raw, timestamp=int(time.time()))
    return Client().post(
        URL,
        raw,
        content_type=content_type,
        HTTP_X_PARTNER=partner.slug,
        HTTP_TELEMEDICINE_SIGNATURE=signature,
    )


@pytest.mark.parametrize(
    "content_type",
    [
        "text/plain",
        "application/x-www-form-urlencoded",
        "multipart/form-data; boundary=xyz",
        "",
        "application/jsonp",
        "application/json; charset=latin-1",
    ],
)
def test_a_body_not_declared_as_json_gets_415_and_changes_nothing(baclofen, content_type):
    partner = make_partner()
    raw = json.dumps(payload()).encode()
    response = send(partner, raw, content_type)
    assert response.status_code == 415
    assert response["Content-Type"] == "application/json"
    assert response.json()["header"] == "Content-Type"
    assert "Content-Type: application/json" in response.json()["error"]
    assert not Prescription.objects.exists()
    # Nothing was stored, not even the signature: the same request, declared right, works.
    assert send(partner, raw, "application/json").status_code == 201


@pytest.mark.parametrize(
    "content_type", ["application/json; charset=utf-8", "Application/JSON; charset=UTF-8"]
)
def test_json_with_a_utf8_charset_is_accepted(baclofen, content_type):
    response = send(make_partner(), json.dumps(payload()).encode(), content_type)
    assert response.status_code == 201


def test_an_oversized_body_gets_a_json_413_and_changes_nothing(baclofen, settings):
    settings.DATA_UPLOAD_MAX_MEMORY_SIZE = 2_000
    partner = make_partner()
    body = payload(directions={"text": "x" * 3_000, "units_per_dose": 1, "doses_per_day": 3})
    response = send(partner, json.dumps(body).encode(), "application/json")
    assert response.status_code == 413
    assert response["Content-Type"] == "application/json"
    assert "larger than 2000 bytes" in response.json()["error"]
    assert not Prescription.objects.exists()
