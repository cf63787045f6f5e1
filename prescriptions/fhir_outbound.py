"""Outbound requests as FHIR R4, for a partner whose system reads FHIR.

A renewal or consultation request (our JSON, as `renewals` and `consultations` write
it) becomes a Bundle of type `collection` whose first entry is a `Task` (code
`fulfill`, status `requested`, identifier the request id sent as X-Request-Id):
"please act on this proposal". Its `focus` is a `MedicationRequest` with intent
`proposal` for the medicine: for a renewal it names the prescription it would replace
(`priorPrescription`, the partner's identifier) and repeats its directions; for a
consultation its `supportingInformation` is the patient's `QuestionnaireResponse`.
`Task.for` is the `Patient`. `Task.input` carries where to answer: `answer-prescription`
(our FHIR intake, with the MedicationRequest `basedOn` the Task's identifier, or
`priorPrescription` for a renewal) and `answer-decline` (JSON `{"reason": ...}`).

The Bundle is validated with fhir.resources' R4B models before it is stored, so the
pharmacy never sends a partner a resource its FHIR library would refuse.
"""

import uuid
from datetime import UTC, datetime

from django.conf import settings
from fhir.resources.R4B.bundle import Bundle

from .fhir import RXNORM

TASK_CODE = "http://hl7.org/fhir/CodeSystem/task-code"
URI = "urn:ietf:rfc:3986"
TITLES = {"renewal_request": "Renewal request", "consultation_request": "Consultation request"}


def _urn(request_id: str, part: str) -> str:
    """A stable full URL for each resource of one request's Bundle."""
    return f"urn:uuid:{uuid.uuid5(uuid.UUID(request_id), part)}"


def _patient(patient: dict) -> dict:
    name = patient.get("name") or ""
    first = patient.get("first_name") or name.partition(" ")[0]
    last = patient.get("last_name") or name.partition(" ")[2]
    resource = {
        "resourceType": "Patient",
        "name": [{"text": name or f"{first} {last}".strip(), "family": last, "given": [first]}],
        "telecom": [{"system": "email", "value": patient["email"]}],
    }
    if patient.get("date_of_birth"):
        resource["birthDate"] = patient["date_of_birth"]
    return resource


def _medication(medication: dict) -> dict:
    text = f"{medication['drug']} {medication['strength']} {medication['form']}".replace("  ", " ")
    concept: dict = {"text": text.strip()}
    if medication.get("rxnorm"):
        concept["coding"] = [{"system": RXNORM, "code": medication["rxnorm"], "display": text}]
    return concept


def _dosage(directions: dict) -> list[dict]:
    dosage: dict = {"text": directions.get("text") or ""}
    if directions.get("doses_per_day"):
        dosage["timing"] = {
            "repeat": {"frequency": directions["doses_per_day"], "period": 1, "periodUnit": "d"}
        }
    if directions.get("units_per_dose"):
        dosage["doseAndRate"] = [{"doseQuantity": {"value": float(directions["units_per_dose"])}}]
    return [dosage]


def _answer(item: dict) -> list[dict]:
    value = item.get("answer")
    if value in (None, ""):
        return []
    if item.get("kind") == "yes_no" and value in ("yes", "no"):
        return [{"valueBoolean": value == "yes"}]
    return [{"valueString": str(value)}]


def _questionnaire_response(payload: dict, patient_ref: str, now: str) -> dict:
    return {
        "resourceType": "QuestionnaireResponse",
        "status": "completed",
        "subject": {"reference": patient_ref},
        "authored": now,
        "item": [
            {
                "linkId": item["id"],
                "text": item["question"],
                **({"answer": answer} if (answer := _answer(item)) else {}),
            }
            for item in payload["questionnaire"]
        ],
    }


def request_bundle(payload: dict) -> dict:
    """The FHIR Bundle for a request's JSON payload (which carries its request_id)."""
    request_id = payload["request_id"]
    kind = payload["type"]
    now = datetime.now(UTC).isoformat(timespec="seconds")
    task_ref, patient_ref = f"urn:uuid:{request_id}", _urn(request_id, "patient")
    proposal_ref, answers_ref = _urn(request_id, "proposal"), _urn(request_id, "answers")
    answer = payload["answer"]
    proposal: dict = {
        "resourceType": "MedicationRequest",
        "status": "draft",
        "intent": "proposal",
        "subject": {"reference": patient_ref},
        "medicationCodeableConcept": _medication(payload["medication"]),
    }
    entries = []
    if kind == "renewal_request":
        proposal["priorPrescription"] = {
            "identifier": {"value": payload["prescription_id"]},
            "display": f"The prescription to renew ({payload['reason']})",
        }
        proposal["dosageInstruction"] = _dosage(payload.get("directions") or {})
        proposal["dispenseRequest"] = {
            "quantity": {"value": payload["quantity"]},
            "numberOfRepeatsAllowed": payload.get("refills") or 0,
        }
    else:
        proposal["supportingInformation"] = [{"reference": answers_ref}]
        entries.append(
            {"fullUrl": answers_ref, "resource": _questionnaire_response(payload, patient_ref, now)}
        )
    task = {
        "resourceType": "Task",
        "identifier": [{"system": URI, "value": task_ref}],
        "status": "requested",
        "intent": "order",
        "code": {"coding": [{"system": TASK_CODE, "code": "fulfill"}], "text": TITLES[kind]},
        "description": payload.get("reason") or TITLES[kind],
        "focus": {"reference": proposal_ref},
        "for": {"reference": patient_ref},
        "authoredOn": now,
        "requester": {"display": settings.SITE_NAME},
        "input": [
            {"type": {"text": "answer-prescription"}, "valueUrl": answer["prescription_fhir"]},
            {"type": {"text": "answer-decline"}, "valueUrl": answer["decline"]},
        ],
    }
    bundle = {
        "resourceType": "Bundle",
        "type": "collection",
        "identifier": {"system": URI, "value": task_ref},
        "timestamp": now,
        "entry": [
            {"fullUrl": task_ref, "resource": task},
            {"fullUrl": patient_ref, "resource": _patient(payload["patient"])},
            {"fullUrl": proposal_ref, "resource": proposal},
            *entries,
        ],
    }
    Bundle.model_validate(bundle)  # raises pydantic's ValidationError: a bug of ours
    return bundle
