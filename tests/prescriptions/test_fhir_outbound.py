"""Requests to a partner who takes FHIR: a Bundle with a Task, validated with
fhir.resources' R4B models, and the partner's FHIR answer linked to the renewed
prescription or the consultation."""

import pytest
from django.core import mail
from fhir.resources.R4B.bundle import Bundle
from pydantic import ValidationError as PydanticError

from prescriptions.fhir_outbound import request_bundle
from prescriptions.models import Consultation, PartnerRequest, RenewalRequest, RequestsFormat
from prescriptions.services import renewal_request
from tests.orders.factories import make_verified_prescription
from tests.prescriptions.consultations import ask as ask_consultation
from tests.prescriptions.consultations import form_data
from tests.prescriptions.test_renewals import used_up


@pytest.fixture
def fhir_partner(standin_partner):
    standin_partner.requests_format = RequestsFormat.FHIR
    standin_partner.save()
    return standin_partner


@pytest.fixture
def finished(patient, fhir_partner, baclofen):
    return used_up(make_verified_prescription(patient=patient, partner=fhir_partner))


def ask(capture, prescription, patient) -> RenewalRequest:
    with capture(execute=True):
        return renewal_request(prescription_id=prescription.pk, patient=patient)


def test_a_renewal_is_sent_as_a_fhir_bundle_that_validates_as_r4(
    finished, patient, partner_standin, django_capture_on_commit_callbacks
):
    renewal = ask(django_capture_on_commit_callbacks, finished, patient)

    [received] = partner_standin.received.values()  # signed, and sent as application/fhir+json
    bundle = Bundle.model_validate(received.fhir)
    task, patient_entry, proposal = (entry.resource for entry in bundle.entry)
    assert task.get_resource_type() == "Task" and task.intent == "order"
    assert task.identifier[0].value == f"urn:uuid:{renewal.partner_request.request_id}"
    assert task.description == "its refills are used up"
    assert {i.type.text for i in task.input} == {"answer-prescription", "answer-decline"}
    assert patient_entry.telecom[0].value == patient.email
    assert proposal.intent == "proposal"
    assert proposal.priorPrescription.identifier.value == finished.partner_reference
    assert proposal.dispenseRequest.quantity.value == finished.quantity
    assert proposal.medicationCodeableConcept.coding[0].code == "197391"
    assert received.payload["type"] == "renewal_request"  # the stand-in read it back


def test_a_payload_fhir_would_refuse_is_never_sent(db):
    bundle = request_bundle(
        {
            "type": "consultation_request",
            "request_id": "7f1c8d2e-0000-4000-8000-000000000001",
            "patient": {"email": "pat@example.com", "name": "Pat Jordan"},
            "medication": {"drug": "baclofen", "form": "tablet", "strength": "10 mg"},
            "questionnaire": [],
            "answer": {"prescription_fhir": "http://x/fhir", "decline": "http://x/d"},
        }
    )
    assert bundle["entry"][0]["resource"]["resourceType"] == "Task"
    with pytest.raises(PydanticError):
        request_bundle(
            {
                "type": "consultation_request",
                "request_id": "7f1c8d2e-0000-4000-8000-000000000001",
                "patient": {
                    "email": "pat@example.com",
                    "name": "Pat Jordan",
                    "date_of_birth": "17 May 1980",  # not a FHIR date
                },
                "medication": {"drug": "baclofen", "form": "tablet", "strength": "10 mg"},
                "questionnaire": [],
                "answer": {"prescription_fhir": "http://x/fhir", "decline": "http://x/d"},
            }
        )


@pytest.mark.django_db(transaction=True, serialized_rollback=True)
def test_the_fhir_partner_renews_through_the_fhir_intake_linked_to_the_original(
    live_server, settings, finished, patient, partner_standin, django_capture_on_commit_callbacks
):
    settings.SITE_URL = live_server.url
    renewal = ask(django_capture_on_commit_callbacks, finished, patient)
    with django_capture_on_commit_callbacks(execute=True):
        status, answer = partner_standin.approve(str(renewal.partner_request.request_id))

    assert status == 201, answer
    assert answer["resourceType"] == "OperationOutcome"
    renewal.refresh_from_db()
    assert renewal.state == RenewalRequest.State.RENEWED
    assert renewal.new_prescription.patient == patient
    assert PartnerRequest.objects.get().state == PartnerRequest.State.DELIVERED
    assert any(
        m.subject.startswith(f"Your prescription #{finished.pk} was renewed") for m in mail.outbox
    )


# Consultations as FHIR ------------------------------------------------------------


def test_a_fhir_partner_gets_a_bundle_that_validates_as_r4(
    django_capture_on_commit_callbacks,
    patient_client,
    baclofen,
    fhir_partner,
    tablet_10,
    consultation_questions,
    partner_standin,
):
    ask_consultation(
        django_capture_on_commit_callbacks,
        patient_client,
        baclofen,
        form_data(fhir_partner, tablet_10, consultation_questions),
    )

    [received] = partner_standin.received.values()
    bundle = Bundle.model_validate(received.fhir)  # what a partner's FHIR library does
    kinds = [entry.resource.get_resource_type() for entry in bundle.entry]
    assert kinds == ["Task", "Patient", "MedicationRequest", "QuestionnaireResponse"]
    task = bundle.entry[0].resource
    assert task.identifier[0].value == f"urn:uuid:{received.request_id}"
    assert task.code.coding[0].code == "fulfill" and task.status == "requested"
    proposal = bundle.entry[2].resource
    assert proposal.intent == "proposal"
    assert proposal.medicationCodeableConcept.coding[0].code == "197391"
    answers = {i.text: i.answer for i in bundle.entry[3].resource.item}
    assert answers["Do you have muscle spasms from multiple sclerosis?"][0].valueBoolean is True
    assert PartnerRequest.objects.get().payload["resourceType"] == "Bundle"


@pytest.mark.django_db(transaction=True, serialized_rollback=True)
def test_a_fhir_partner_answers_through_the_fhir_intake(
    live_server,
    settings,
    django_capture_on_commit_callbacks,
    patient_client,
    patient,
    baclofen,
    standin_partner,
    tablet_10,
    consultation_questions,
    partner_standin,
):
    settings.SITE_URL = live_server.url
    standin_partner.requests_format = RequestsFormat.FHIR
    standin_partner.save()
    ask_consultation(
        django_capture_on_commit_callbacks,
        patient_client,
        baclofen,
        form_data(standin_partner, tablet_10, consultation_questions),
    )
    consultation = Consultation.objects.get()
    with django_capture_on_commit_callbacks(execute=True):
        status, answer = partner_standin.approve(str(consultation.partner_request.request_id))

    assert status == 201, answer
    consultation.refresh_from_db()
    assert consultation.status == Consultation.Status.PRESCRIBED
    assert consultation.prescription.patient == patient
