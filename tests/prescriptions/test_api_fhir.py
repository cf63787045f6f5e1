"""The intake of FHIR R4 MedicationRequests: signed as the JSON intake, validated with
fhir.resources, held to the same rules, every bad element named in an OperationOutcome."""

import copy
import json
import time

import pytest
from django.test import Client
from fhir.resources.R4B.operationoutcome import OperationOutcome

from catalog.models import Formulation
from prescriptions.intake import sign
from prescriptions.models import Prescription, Source, Status
from tests.factories import make_partner, make_user_with_verified_email, valid_npi

URL = "/api/telemedicine/fhir/MedicationRequest"
FHIR = "application/fhir+json"
RXNORM = "http://www.nlm.nih.gov/research/umls/rxnorm"


@pytest.fixture
def partner(db):
    return make_partner(slug="fhir-telehealth")


def patient_resource(**overrides) -> dict:
    return {
        "resourceType": "Patient",
        "id": "pat",
        "name": [{"given": ["Ada"], "family": "Lovelace"}],
        "birthDate": "1980-05-17",
        "telecom": [{"system": "email", "value": "ada@example.com"}],
        **overrides,
    }


def practitioner_resource(**overrides) -> dict:
    return {
        "resourceType": "Practitioner",
        "id": "doc",
        "name": [{"prefix": ["Dr."], "given": ["Grace"], "family": "Hopper"}],
        "identifier": [{"system": "http://hl7.org/fhir/sid/us-npi", "value": valid_npi()}],
        "qualification": [{"code": {"text": "MD"}, "identifier": [{"value": "NY-1"}]}],
        **overrides,
    }


def medication_request(**overrides) -> dict:
    """Baclofen 10 mg tablets, 1 three times a day, 90 with 2 refills; patient and
    prescriber contained."""
    body = {
        "resourceType": "MedicationRequest",
        "identifier": [{"system": "https://fhir-telehealth.example/rx", "value": "RX-77"}],
        "status": "active",
        "intent": "order",
        "contained": [patient_resource(), practitioner_resource()],
        "subject": {"reference": "#pat"},
        "requester": {"reference": "#doc"},
        "medicationCodeableConcept": {
            "coding": [
                {"system": RXNORM, "code": "197391", "display": "baclofen 10 MG Oral Tablet"}
            ]
        },
        "authoredOn": time.strftime("%Y-%m-%dT09:30:00-05:00"),
        "dosageInstruction": [
            {
                "text": "1 tablet three times a day",
                "timing": {"repeat": {"frequency": 3, "period": 1, "periodUnit": "d"}},
                "doseAndRate": [{"doseQuantity": {"value": 1, "unit": "tablet"}}],
            }
        ],
        "dispenseRequest": {"quantity": {"value": 90}, "numberOfRepeatsAllowed": 2},
    }
    body.update(overrides)
    return body


def post(partner, body, *, content_type=FHIR, signed=True, timestamp=None):
    raw = body if isinstance(body, bytes) else json.dumps(body).encode()
    headers = {"HTTP_X_PARTNER": partner.slug}
    if signed:
        headers["HTTP_TELEMEDICINE_SIGNATURE"] = sign(
            secret=partner.secret, body=raw, timestamp=timestamp or int(time.time())
        )
    return Client().post(URL, raw, content_type=content_type, **headers)


def issues(response) -> dict[str, str]:
    """expression -> diagnostics, after checking the body is a valid OperationOutcome."""
    assert response["Content-Type"].startswith(FHIR)
    outcome = response.json()
    OperationOutcome.model_validate(outcome)
    return {i["expression"][0]: i["diagnostics"] for i in outcome["issue"]}


def test_the_catalog_knows_the_rxnorm_codes_of_baclofen_tablets(baclofen):
    codes = dict(
        Formulation.objects.filter(drug=baclofen, form="tablet").values_list(
            "strength_label", "rxnorm_code"
        )
    )
    assert codes == {"10 mg": "197391", "20 mg": "197392"}


def test_a_signed_medication_request_is_received_as_a_prescription(partner, baclofen):
    patient = make_user_with_verified_email(
        email="ada@example.com", first_name="Ada", last_name="Lovelace"
    )

    response = post(partner, medication_request())

    assert response.status_code == 201
    prescription = Prescription.objects.get(partner=partner, partner_reference="RX-77")
    assert response["Location"].endswith(f"{URL}/{prescription.pk}")
    assert (
        f"Received as prescription {prescription.pk}"
        in issues(response)["MedicationRequest.identifier"]
    )
    assert prescription.patient == patient
    assert (prescription.source, prescription.status) == (Source.TELEMEDICINE, Status.SUBMITTED)
    assert str(prescription.formulation) == "Baclofen 10 mg tablet"
    assert (prescription.units_per_dose, prescription.doses_per_day) == (1, 3)
    assert (prescription.quantity, prescription.refills) == (90, 2)
    assert prescription.prescriber_name == "Dr. Grace Hopper"
    assert prescription.prescriber_npi == valid_npi()
    assert prescription.prescriber_license == "NY-1"
    assert prescription.directions == "1 tablet three times a day"


def test_a_bundle_with_the_patient_and_prescriber_beside_it_is_received(partner, baclofen):
    request = medication_request(
        subject={"reference": "urn:uuid:7f1c8d2e-0000-4000-8000-000000000001"},
        requester={"reference": "Practitioner/doc"},
        medicationCodeableConcept={"coding": [{"system": RXNORM, "code": "197392"}]},
    )
    del request["contained"]
    bundle = {
        "resourceType": "Bundle",
        "type": "collection",
        "entry": [
            {"fullUrl": "urn:uuid:7f1c8d2e-0000-4000-8000-000000000002", "resource": request},
            {
                "fullUrl": "urn:uuid:7f1c8d2e-0000-4000-8000-000000000001",
                "resource": patient_resource(),
            },
            {"resource": practitioner_resource()},
        ],
    }

    response = post(partner, bundle)

    assert response.status_code == 201
    prescription = Prescription.objects.get(partner=partner)
    assert str(prescription.formulation) == "Baclofen 20 mg tablet"
    assert prescription.patient_name == "Ada Lovelace"


def test_the_medication_may_be_a_contained_medication_and_the_timing_in_hours(partner, baclofen):
    request = medication_request(
        medicationReference={"reference": "#med"},
        dosageInstruction=[
            {
                "text": "1 tablet every 8 hours",
                "timing": {"repeat": {"frequency": 1, "period": 8, "periodUnit": "h"}},
                "doseAndRate": [{"doseQuantity": {"value": 1}}],
            }
        ],
    )
    del request["medicationCodeableConcept"]
    request["contained"].append(
        {
            "resourceType": "Medication",
            "id": "med",
            "code": {"coding": [{"system": RXNORM, "code": "197391"}]},
        }
    )

    assert post(partner, request).status_code == 201
    assert Prescription.objects.get(partner=partner).doses_per_day == 3


def test_the_same_medication_request_sent_twice_is_stored_once(partner, baclofen):
    now = int(time.time())
    assert post(partner, medication_request(), timestamp=now).status_code == 201
    # Signed anew, a second earlier: a signature of its own, whichever second the first
    # request fell in (a reused signature is refused as a replay).
    again = post(partner, medication_request(), timestamp=now - 1)
    assert again.status_code == 200
    assert "Already received as prescription" in issues(again)["MedicationRequest.identifier"]
    assert Prescription.objects.filter(partner=partner).count() == 1


def test_an_element_fhir_does_not_allow_is_named(partner, baclofen):
    response = post(partner, medication_request(authoredOn="yesterday", colour="blue"))
    assert response.status_code == 400
    named = issues(response)
    assert set(named) == {"MedicationRequest.authoredOn", "MedicationRequest.colour"}
    assert not Prescription.objects.exists()


def test_every_bad_element_is_named_at_once(partner, baclofen):
    request = medication_request(
        medicationCodeableConcept={"coding": [{"system": RXNORM, "code": "999999"}]},
        dispenseRequest={"quantity": {"value": 0}, "numberOfRepeatsAllowed": 2},
    )
    request["contained"] = [
        patient_resource(birthDate="2990-01-01"),
        practitioner_resource(
            identifier=[{"system": "http://hl7.org/fhir/sid/us-npi", "value": "1234567890"}]
        ),
    ]

    response = post(partner, request)

    assert response.status_code == 400
    named = issues(response)
    assert (
        "197391 (Baclofen 10 mg tablet)"
        in named["MedicationRequest.medicationCodeableConcept.coding"]
    )
    assert "999999" in named["MedicationRequest.medicationCodeableConcept.coding"]
    assert "out of range" in named["MedicationRequest.dispenseRequest.quantity.value"]
    assert "in the future" in named["Patient.birthDate"]
    assert (
        "check digit"
        in named["Practitioner.identifier.where(system='http://hl7.org/fhir/sid/us-npi').value"]
    )
    assert not Prescription.objects.exists()


def test_a_missing_patient_or_prescriber_is_named(partner, baclofen):
    request = medication_request(subject={"reference": "#nobody"})
    request["contained"] = [patient_resource()]  # no practitioner

    named = issues(post(partner, request))

    assert "'#nobody' is not a Patient" in named["MedicationRequest.subject"]
    assert "'#doc' is not a Practitioner" in named["MedicationRequest.requester"]


@pytest.mark.parametrize(
    ("timing", "says"),
    [
        ({"frequency": 3, "period": 2, "periodUnit": "d"}, "1.50 doses a day"),
        ({"frequency": 1, "period": 1, "periodUnit": "wk"}, "periodUnit h or d"),
    ],
)
def test_a_timing_that_is_not_whole_doses_a_day_is_refused(partner, baclofen, timing, says):
    request = medication_request()
    request["dosageInstruction"][0]["timing"]["repeat"] = timing
    named = issues(post(partner, request))
    assert says in named["MedicationRequest.dosageInstruction[0].timing.repeat"]


def test_another_resource_type_is_refused(partner, baclofen):
    named = issues(post(partner, patient_resource()))
    assert "Expected a MedicationRequest or a Bundle" in named["resourceType"]


def test_a_bundle_must_hold_exactly_one_medication_request(partner, baclofen):
    one = medication_request()
    two = copy.deepcopy(one)
    bundle = {
        "resourceType": "Bundle",
        "type": "collection",
        "entry": [{"resource": one}, {"resource": two}],
    }
    assert "this Bundle has 2" in issues(post(partner, bundle))["Bundle.entry"]


@pytest.mark.parametrize(
    ("kwargs", "status"),
    [({"content_type": "application/json"}, 415), ({"signed": False}, 401)],
)
def test_unsigned_or_not_fhir_json_is_refused_with_an_operation_outcome(
    partner, baclofen, kwargs, status
):
    response = post(partner, medication_request(), **kwargs)
    assert response.status_code == status
    issues(response)
    assert not Prescription.objects.exists()


def test_a_body_that_is_not_json_is_refused_with_an_operation_outcome(partner, db):
    response = post(partner, b"{not json")
    assert response.status_code == 400
    assert "Invalid JSON" in issues(response)["request"]
