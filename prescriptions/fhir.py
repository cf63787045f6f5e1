"""FHIR R4 e-prescriptions: a partner's MedicationRequest read into the intake's data.

A partner may send, instead of our JSON, a FHIR R4 `MedicationRequest` whose patient,
prescriber and medication are contained in it (`#id` references) or sit beside it in
a Bundle (`fullUrl` or `Type/id` references). Its structure is validated with
`fhir.resources` (the R4B models: R4's MedicationRequest is unchanged in R4B); then
the elements the pharmacy reads are put in the shape of our JSON intake and go
through the same rules (`intake.parse_prescription`), so a FHIR prescription is held
to exactly what a JSON one is. Every refusal is an OperationOutcome issue whose
`expression` names the element (FHIRPath), all at once, as the JSON intake does.

Pure: no request, no saved row (the catalog is read to find the RxNorm code).
"""

from dataclasses import dataclass
from datetime import date
from decimal import Decimal
from typing import Any

from fhir.resources.R4B.bundle import Bundle
from fhir.resources.R4B.medicationrequest import MedicationRequest
from pydantic import ValidationError as PydanticError

from catalog.models import Formulation

from .intake import REQUIRED, IntakeData, IntakeError, parse_prescription

FHIR_JSON = "application/fhir+json"
RXNORM = "http://www.nlm.nih.gov/research/umls/rxnorm"
NPI = "http://hl7.org/fhir/sid/us-npi"
MR = "MedicationRequest"

# Where each field of our JSON intake comes from in the MedicationRequest, to name it
# in a refusal.
EXPRESSIONS = {
    "prescription_id": f"{MR}.identifier",
    "patient": f"{MR}.subject",
    "patient.email": "Patient.telecom.where(system='email').value",
    "patient.first_name": "Patient.name.given",
    "patient.last_name": "Patient.name.family",
    "patient.date_of_birth": "Patient.birthDate",
    "prescriber": f"{MR}.requester",
    "prescriber.name": "Practitioner.name",
    "prescriber.npi": f"Practitioner.identifier.where(system='{NPI}').value",
    "prescriber.state_license": "Practitioner.qualification.identifier.value",
    "medication": f"{MR}.medicationCodeableConcept",
    "medication.drug": f"{MR}.medicationCodeableConcept.coding",
    "medication.form": f"{MR}.medicationCodeableConcept.coding",
    "medication.strength": f"{MR}.medicationCodeableConcept.coding",
    "directions": f"{MR}.dosageInstruction",
    "directions.text": f"{MR}.dosageInstruction[0].text",
    "directions.units_per_dose": f"{MR}.dosageInstruction[0].doseAndRate[0].doseQuantity.value",
    "directions.doses_per_day": f"{MR}.dosageInstruction[0].timing.repeat",
    "quantity": f"{MR}.dispenseRequest.quantity.value",
    "refills": f"{MR}.dispenseRequest.numberOfRepeatsAllowed",
    "date_written": f"{MR}.authoredOn",
    "renews": f"{MR}.priorPrescription.identifier.value",
    "consultation": f"{MR}.basedOn[0].identifier.value",
    "body": MR,
}
# Hours in one unit of Timing.repeat.periodUnit, for doses per day.
PERIOD_HOURS = {"h": Decimal(1), "d": Decimal(24)}


@dataclass(frozen=True)
class Issue:
    expression: str
    diagnostics: str
    code: str = "invalid"  # an IssueType: required, value, structure, not-found, invalid


class FhirError(Exception):
    def __init__(self, issues: list[Issue]):
        self.issues = issues
        super().__init__("; ".join(f"{i.expression}: {i.diagnostics}" for i in issues))


def operation_outcome(issues: list[Issue], *, severity: str = "error") -> dict:
    """The OperationOutcome a FHIR client reads: one issue per problem, each naming its
    element."""
    return {
        "resourceType": "OperationOutcome",
        "issue": [
            {
                "severity": severity,
                "code": issue.code,
                "diagnostics": issue.diagnostics,
                "expression": [issue.expression],
            }
            for issue in issues
        ],
    }


def _fhirpath(resource: str, loc: tuple) -> str:
    path = resource
    for part in loc:
        path += f"[{part}]" if isinstance(part, int) else f".{part}"
    return path


def _validate(model, payload: dict) -> None:
    try:
        model.model_validate(payload)
    except PydanticError as exc:
        raise FhirError(
            [
                Issue(
                    _fhirpath(model.__name__, error["loc"]),
                    error["msg"].removeprefix("Value error, "),
                    "required" if "missing" in error["type"] else "structure",
                )
                for error in exc.errors()
            ]
        ) from None
    except (TypeError, ValueError) as exc:  # a resource the models cannot even read
        raise FhirError([Issue(model.__name__, str(exc), "structure")]) from None


class _Resources:
    """The resources a MedicationRequest's references may point at."""

    def __init__(self, request: dict, bundle: list[dict]):
        self.by_ref: dict[str, dict] = {}
        for entry in bundle:
            resource = entry.get("resource") or {}
            if entry.get("fullUrl"):
                self.by_ref[entry["fullUrl"]] = resource
            if resource.get("id"):
                self.by_ref[f"{resource.get('resourceType')}/{resource['id']}"] = resource
        for resource in request.get("contained") or []:
            if resource.get("id"):
                self.by_ref[f"#{resource['id']}"] = resource

    def get(self, reference: Any, kind: str, path: str, issues: list[Issue]) -> dict | None:
        if not isinstance(reference, dict) or not reference.get("reference"):
            issues.append(Issue(path, f"{REQUIRED} Reference a {kind}.", "required"))
            return None
        ref = reference["reference"]
        resource = self.by_ref.get(ref)
        if resource is None or resource.get("resourceType") != kind:
            issues.append(
                Issue(
                    path,
                    f"{ref!r} is not a {kind} contained in the MedicationRequest or in the Bundle.",
                    "not-found",
                )
            )
            return None
        return resource


def _unwrap(payload: dict) -> tuple[dict, list[dict]]:
    """The MedicationRequest, and the Bundle's entries it may reference."""
    kind = payload.get("resourceType")
    if kind == MR:
        _validate(MedicationRequest, payload)
        return payload, []
    if kind == "Bundle":
        _validate(Bundle, payload)
        entries = payload.get("entry") or []
        requests = [
            e["resource"] for e in entries if (e.get("resource") or {}).get("resourceType") == MR
        ]
        if len(requests) != 1:
            raise FhirError(
                [Issue("Bundle.entry", f"Send exactly one {MR}; this Bundle has {len(requests)}.")]
            )
        return requests[0], entries
    raise FhirError(
        [Issue("resourceType", f"Expected a {MR} or a Bundle holding one, not {kind!r}.")]
    )


def _first(items: Any) -> dict:
    return items[0] if isinstance(items, list) and items and isinstance(items[0], dict) else {}


def _whole(value: Any) -> Any:
    """A FHIR decimal or integer that is a whole number, as the JSON intake's integer."""
    if isinstance(value, Decimal) and value == value.to_integral_value():
        return int(value)
    return value


def _patient(patient: dict | None) -> dict | None:
    if patient is None:
        return None
    name = _first(patient.get("name"))
    email = next(
        (t.get("value") for t in patient.get("telecom") or [] if t.get("system") == "email"), None
    )
    return {
        "email": email,
        "first_name": " ".join(name.get("given") or []) or None,
        "last_name": name.get("family"),
        "date_of_birth": patient.get("birthDate"),
    }


def _prescriber(practitioner: dict | None) -> dict | None:
    if practitioner is None:
        return None
    name = _first(practitioner.get("name"))
    full = (
        name.get("text")
        or " ".join(
            [*(name.get("prefix") or []), *(name.get("given") or []), name.get("family") or ""]
        ).strip()
    )
    npi = next(
        (i.get("value") for i in practitioner.get("identifier") or [] if i.get("system") == NPI),
        None,
    )
    licence = _first(_first(practitioner.get("qualification")).get("identifier")).get("value")
    return {"name": full or None, "npi": npi, "state_license": licence}


def _medication(request: dict, resources: _Resources, issues: list[Issue]) -> dict | None:
    concept = request.get("medicationCodeableConcept")
    path = f"{MR}.medicationCodeableConcept"
    if concept is None and request.get("medicationReference"):
        path = f"{MR}.medicationReference"
        medication = resources.get(request["medicationReference"], "Medication", path, issues)
        if medication is None:
            return None
        concept = medication.get("code") or {}
    if concept is None:
        issues.append(Issue(path, f"{REQUIRED} Code the medication in RxNorm.", "required"))
        return None
    codes = [c.get("code") for c in concept.get("coding") or [] if c.get("system") == RXNORM]
    if not codes:
        issues.append(
            Issue(f"{path}.coding", f"Code the medication in RxNorm (system {RXNORM}).", "required")
        )
        return None
    formulation = (
        Formulation.objects.select_related("drug")
        .filter(rxnorm_code__in=codes, drug__is_published=True)
        .first()
    )
    if formulation is None:
        known = ", ".join(
            f"{code} ({f})"
            for code, f in (
                (f.rxnorm_code, f)
                for f in Formulation.objects.select_related("drug")
                .filter(drug__is_published=True)
                .exclude(rxnorm_code="")
            )
        )
        issues.append(
            Issue(
                f"{path}.coding",
                f"No medicine of the pharmacy has RxNorm code {', '.join(map(str, codes))}; "
                f"known: {known or 'none'}.",
                "value",
            )
        )
        return None
    return {
        "drug": formulation.drug.slug,
        "form": formulation.form,
        "strength": formulation.strength_label,
    }


def _doses_per_day(dosage: dict, issues: list[Issue]) -> Any:
    repeat = (dosage.get("timing") or {}).get("repeat") or {}
    path = f"{MR}.dosageInstruction[0].timing.repeat"
    if not repeat:
        return None  # reported by the intake as required
    frequency = repeat.get("frequency", 1)
    period, unit = repeat.get("period"), repeat.get("periodUnit")
    if period is None or unit not in PERIOD_HOURS:
        issues.append(
            Issue(
                path,
                "Give frequency per period with periodUnit h or d (e.g. frequency 3, period 1, "
                "periodUnit d; or frequency 1, period 8, periodUnit h).",
                "value",
            )
        )
        return None
    per_day = Decimal(frequency) * Decimal(24) / (Decimal(period) * PERIOD_HOURS[unit])
    if per_day != per_day.to_integral_value():
        issues.append(Issue(path, f"That is {per_day:.2f} doses a day: a whole number is needed."))
        return None
    return int(per_day)


def _consultation_id(request: dict) -> Any:
    identifier = _first(request.get("basedOn")).get("identifier") or {}
    value = identifier.get("value")
    return value.removeprefix("urn:uuid:") if isinstance(value, str) else value


def parse_fhir_prescription(payload: Any, *, today: date) -> IntakeData:
    """The IntakeData of a FHIR MedicationRequest (alone or in a Bundle), or FhirError
    naming every problem."""
    if not isinstance(payload, dict):
        raise FhirError([Issue("resourceType", "Send a FHIR resource as a JSON object.")])
    request, bundle = _unwrap(payload)
    resources = _Resources(request, bundle)
    issues: list[Issue] = []
    patient = resources.get(request.get("subject"), "Patient", f"{MR}.subject", issues)
    practitioner = resources.get(
        request.get("requester"), "Practitioner", f"{MR}.requester", issues
    )
    identifier = _first(request.get("identifier")).get("value")
    dosage = _first(request.get("dosageInstruction"))
    dose = _first(dosage.get("doseAndRate")).get("doseQuantity") or {}
    dispense = request.get("dispenseRequest") or {}
    authored = request.get("authoredOn")
    ours = {
        "prescription_id": identifier,
        "patient": _patient(patient),
        "prescriber": _prescriber(practitioner),
        "medication": _medication(request, resources, issues),
        "directions": {
            "text": dosage.get("text"),
            "units_per_dose": dose.get("value"),
            "doses_per_day": _doses_per_day(dosage, issues),
        }
        if dosage
        else None,
        "quantity": _whole((dispense.get("quantity") or {}).get("value")),
        "refills": dispense.get("numberOfRepeatsAllowed"),
        # authoredOn is a dateTime: the day it was written is its date part.
        "date_written": authored[:10] if isinstance(authored, str) else authored,
        # A renewal names the prescription it replaces by the partner's identifier.
        "renews": ((request.get("priorPrescription") or {}).get("identifier") or {}).get("value"),
        # A consultation's answer is based on the request (the Task we sent), by its id.
        "consultation": _consultation_id(request),
    }
    # Already reported above, more precisely, when these are None.
    reported = {"patient", "prescriber", "medication"}
    try:
        data = parse_prescription(ours, today=today)
    except IntakeError as exc:
        issues += [
            Issue(
                EXPRESSIONS.get(field, field),
                " ".join(messages),
                "required" if REQUIRED in messages else "value",
            )
            for field, messages in exc.errors.items()
            if not (field in reported and ours[field] is None)
            and not (field.startswith("medication.") and ours["medication"] is None)
            and not (
                field == "directions.doses_per_day"
                and any(i.expression.endswith("timing.repeat") for i in issues)
            )
        ]
    if issues:
        raise FhirError(issues)
    return data
