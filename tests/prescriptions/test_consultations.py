"""Consultations: a patient without a prescription answers the drug's questionnaire
(the medical profile and the questions staff define), chooses a partner, and the
request goes to the partner through the outbox, signed and retried; the partner
answers with a prescription linked to the consultation, or declines with a reason."""

import json
import time
from datetime import timedelta

import pytest
from django.core import mail
from django.test import Client
from django.urls import reverse
from django.utils import timezone

from prescriptions.intake import sign
from prescriptions.models import (
    Consultation,
    ConsultationQuestion,
    MedicalProfile,
    PartnerExchange,
    Prescription,
)
from prescriptions.services import partner_requests_send_due
from tests.factories import make_partner, make_user_with_verified_email
from tests.prescriptions.consultations import ask, form_data


@pytest.fixture
def capture(django_capture_on_commit_callbacks):
    return django_capture_on_commit_callbacks


@pytest.fixture
def placed(capture, patient_client, baclofen, standin_partner, tablet_10, consultation_questions):
    response = ask(
        capture,
        patient_client,
        baclofen,
        form_data(standin_partner, tablet_10, consultation_questions),
    )
    assert response.status_code == 302, response.content.decode()[:3000]
    return Consultation.objects.get()


# Placing it ------------------------------------------------------------------------


def test_the_drug_page_offers_a_consultation(client, baclofen):
    page = client.get(reverse("catalog:drug_detail", args=[baclofen.slug])).content.decode()
    assert "Get a prescription online" in page
    assert reverse("prescriptions:consultation_new", args=[baclofen.slug]) in page


def test_the_questionnaire_asks_the_profile_and_the_drugs_questions(
    patient_client, baclofen, standin_partner, consultation_questions
):
    page = patient_client.get(
        reverse("prescriptions:consultation_new", args=[baclofen.slug])
    ).content.decode()
    assert "Do you have muscle spasms from multiple sclerosis?" in page
    assert "What have you tried for the spasms so far?" in page
    assert "Pregnant or planning a pregnancy" in page  # the medical profile's question
    assert "Consult Health" in page


def test_a_consultation_is_placed_and_reaches_the_partner_once_signed(
    placed, patient, partner_standin, baclofen
):
    assert placed.status == Consultation.Status.SENT and placed.patient == patient
    [received] = partner_standin.received.values()  # the stand-in checked the signature
    assert received.request_id == str(placed.partner_request.request_id)
    asked = received.payload
    assert asked["type"] == "consultation_request"
    assert asked["medication"]["strength"] == "10 mg"
    answers = {item["question"]: item["answer"] for item in asked["questionnaire"]}
    assert answers["Do you have muscle spasms from multiple sclerosis?"] == "yes"
    assert answers["What have you tried for the spasms so far?"] == "Stretching and physiotherapy."
    assert answers["Pregnant or planning a pregnancy"] == "no"
    assert asked["answer"]["consultation"] == received.request_id
    # The profile was saved with the request.
    assert str(MedicalProfile.objects.get(user=patient).date_of_birth) == "1980-05-17"
    [email] = [m for m in mail.outbox if "consultation" in m.subject]
    assert email.subject.startswith(
        "We sent your consultation request for Baclofen to Consult Health"
    )
    [sent] = PartnerExchange.objects.filter(direction="out")
    assert sent.status_code == 202 and sent.request == placed.partner_request


def test_a_required_question_left_unanswered_is_named_and_nothing_is_sent(
    capture,
    patient_client,
    baclofen,
    standin_partner,
    tablet_10,
    consultation_questions,
    partner_standin,
):
    data = form_data(
        standin_partner,
        tablet_10,
        consultation_questions,
        **{f"question_{consultation_questions[0].pk}": None},
    )
    response = ask(capture, patient_client, baclofen, data)
    assert response.status_code == 400
    assert "Please answer this question." in response.content.decode()
    assert not Consultation.objects.exists() and not partner_standin.received


def test_asking_twice_is_one_consultation(
    capture,
    placed,
    patient_client,
    baclofen,
    standin_partner,
    tablet_10,
    consultation_questions,
    partner_standin,
):
    response = ask(
        capture,
        patient_client,
        baclofen,
        form_data(standin_partner, tablet_10, consultation_questions),
    )
    assert response.status_code == 302 and response["Location"] == placed.get_absolute_url()
    assert Consultation.objects.count() == 1 and len(partner_standin.received) == 1


def test_a_partner_down_for_a_while_gets_the_consultation_once_when_back(
    capture,
    patient_client,
    baclofen,
    standin_partner,
    tablet_10,
    consultation_questions,
    partner_standin,
):
    partner_standin.down = True
    ask(
        capture,
        patient_client,
        baclofen,
        form_data(standin_partner, tablet_10, consultation_questions),
    )
    consultation = Consultation.objects.get()
    assert not consultation.with_clinician
    page = patient_client.get(consultation.get_absolute_url()).content.decode()
    assert "Sent to Consult Health" in page

    later = timezone.now() + timedelta(minutes=5)
    partner_requests_send_due(now=later)  # still down
    partner_standin.down = False
    partner_requests_send_due(now=later + timedelta(hours=1))
    partner_requests_send_due(now=later + timedelta(hours=2))  # nothing left to send

    [received] = partner_standin.received.values()
    assert received.deliveries == 1
    consultation.refresh_from_db()
    assert consultation.with_clinician
    page = patient_client.get(consultation.get_absolute_url()).content.decode()
    assert "With a clinician at Consult Health" in page
    statuses = list(
        PartnerExchange.objects.filter(direction="out")
        .order_by("at")
        .values_list("status_code", flat=True)
    )
    assert statuses == [503, 503, 202]


def test_a_consultation_the_partner_refuses_tells_the_patient(
    capture, patient_client, baclofen, standin_partner, tablet_10, consultation_questions
):
    standin_partner.secret = "tmsec_not_the_one_the_partner_knows"  # the partner answers 401
    standin_partner.save()
    ask(
        capture,
        patient_client,
        baclofen,
        form_data(standin_partner, tablet_10, consultation_questions),
    )
    consultation = Consultation.objects.get()
    assert consultation.status == Consultation.Status.NOT_SENT
    assert any(
        m.subject.startswith("Consult Health could not take your consultation request")
        for m in mail.outbox
    )


# The partner's answers -------------------------------------------------------------


@pytest.mark.django_db(transaction=True, serialized_rollback=True)
def test_approved_the_prescription_is_linked_and_the_patient_sees_it(
    live_server,
    settings,
    capture,
    patient_client,
    patient,
    baclofen,
    standin_partner,
    tablet_10,
    consultation_questions,
    partner_standin,
):
    settings.SITE_URL = live_server.url  # where the partner sends its answer
    ask(
        capture,
        patient_client,
        baclofen,
        form_data(standin_partner, tablet_10, consultation_questions),
    )
    consultation = Consultation.objects.get()
    with capture(execute=True):
        status, answer = partner_standin.approve(str(consultation.partner_request.request_id))

    assert status == 201, answer
    consultation.refresh_from_db()
    assert consultation.status == Consultation.Status.PRESCRIBED
    prescription = consultation.prescription
    assert prescription.pk == answer["id"] and prescription.patient == patient
    assert prescription.consultation == consultation
    listing = patient_client.get(reverse("prescriptions:list")).content.decode()
    assert f"prescription #{prescription.pk}" in listing and "Prescribed" in listing
    assert patient_client.get(prescription.get_absolute_url()).status_code == 200
    assert any(
        m.subject.startswith("Consult Health prescribed Baclofen for you") for m in mail.outbox
    )
    received = PartnerExchange.objects.filter(direction="in", prescription=prescription)
    assert received.get().status_code == 201


@pytest.mark.django_db(transaction=True, serialized_rollback=True)
def test_declined_the_reason_is_shown_and_emailed(
    live_server,
    settings,
    capture,
    patient_client,
    baclofen,
    standin_partner,
    tablet_10,
    consultation_questions,
    partner_standin,
):
    settings.SITE_URL = live_server.url
    ask(
        capture,
        patient_client,
        baclofen,
        form_data(standin_partner, tablet_10, consultation_questions),
    )
    consultation = Consultation.objects.get()
    request_id = str(consultation.partner_request.request_id)
    with capture(execute=True):
        status, _ = partner_standin.decline(
            request_id, "Please see your neurologist in person first."
        )
        again, _ = partner_standin.decline(request_id, "A second answer changes nothing.")

    assert (status, again) == (200, 200)
    consultation.refresh_from_db()
    assert consultation.status == Consultation.Status.DECLINED
    page = patient_client.get(consultation.get_absolute_url()).content.decode()
    assert "Please see your neurologist in person first." in page
    listing = patient_client.get(reverse("prescriptions:list")).content.decode()
    assert "Declined" in listing and "Please see your neurologist in person first." in listing
    [email] = [
        m for m in mail.outbox if m.subject.startswith("Consult Health did not prescribe Baclofen")
    ]
    assert "Please see your neurologist in person first." in email.body
    assert "A second answer" not in email.body


def intake(partner, body: dict):
    raw = json.dumps(body).encode()
    return Client().post(
        "/api/telemedicine/prescriptions/",
        raw,
        content_type="application/json",
        HTTP_X_PARTNER=partner.slug,
        HTTP_TELEMEDICINE_SIGNATURE=sign(
            secret=partner.secret, body=raw, timestamp=int(time.time())
        ),
    )


def prescription_for(patient, **overrides) -> dict:
    return {
        "prescription_id": "TM-C-1",
        "patient": {
            "email": patient.email,
            "first_name": "Pat",
            "last_name": "Jordan",
            "date_of_birth": "1980-05-17",
        },
        "prescriber": {"name": "Dr. A", "npi": "1234567893"},
        "medication": {"drug": "baclofen", "form": "tablet", "strength": "10 mg"},
        "directions": {
            "text": "1 tablet three times a day",
            "units_per_dose": 1,
            "doses_per_day": 3,
        },
        "quantity": 90,
        "date_written": timezone.localdate().isoformat(),
        **overrides,
    }


def test_a_prescription_naming_a_consultation_another_partner_got_is_refused(placed, patient):
    other = make_partner(slug="other-health")
    response = intake(
        other, prescription_for(patient, consultation=str(placed.partner_request.request_id))
    )
    assert response.status_code == 400
    assert "You were sent no consultation request" in response.json()["errors"]["consultation"][0]
    assert not Prescription.objects.filter(partner_reference="TM-C-1").exists()
    placed.refresh_from_db()
    assert placed.status == Consultation.Status.SENT


def test_a_prescription_for_another_patient_cannot_answer_the_consultation(
    placed, standin_partner, patient
):
    stranger = make_user_with_verified_email(email="sam@example.com", first_name="Sam")
    body = prescription_for(stranger, consultation=str(placed.partner_request.request_id))
    response = intake(standin_partner, body)
    assert response.status_code == 400
    assert "another patient" in response.json()["errors"]["consultation"][0]


# Who sees it -----------------------------------------------------------------------


def test_another_patient_gets_404(placed):
    stranger = make_user_with_verified_email(email="sam@example.com")
    client = Client()
    client.force_login(stranger)
    assert client.get(placed.get_absolute_url()).status_code == 404
    assert "Consult Health" not in client.get(reverse("prescriptions:list")).content.decode()


def test_signing_in_is_required(client, baclofen, db):
    url = reverse("prescriptions:consultation_new", args=[baclofen.slug])
    response = client.get(url)
    assert response.status_code == 302 and "/accounts/login/" in response["Location"]


# Staff -----------------------------------------------------------------------------


def test_pharmacists_write_the_questions_and_read_consultations_without_patient_data(
    placed, patient, baclofen, client
):
    from tests.factories import make_pharmacist, sign_in_staff

    sign_in_staff(client, make_pharmacist())
    response = client.post(
        reverse("admin:prescriptions_consultationquestion_add"),
        {
            "drug": baclofen.pk,
            "text": "Do you drive or operate machinery?",
            "help_text": "",
            "kind": "yes_no",
            "required": "on",
            "position": 3,
            "active": "on",
        },
    )
    assert response.status_code == 302
    assert (
        ConsultationQuestion.objects.get(text="Do you drive or operate machinery?").history.count()
        == 1
    )
    consultation_questions = client.get(
        reverse("admin:prescriptions_consultationquestion_changelist") + "?q=machinery"
    ).content.decode()
    assert "Do you drive or operate machinery?" in consultation_questions
    listing = client.get(reverse("admin:prescriptions_consultation_changelist")).content.decode()
    assert "Consult Health" in listing and "Sent to the telemedicine service" in listing
    assert patient.email not in listing
    found = client.get(
        reverse("admin:prescriptions_consultation_changelist")
        + f"?q={placed.partner_request.request_id}"
    )
    assert found.status_code == 200 and f"{placed.pk}" in found.content.decode()
    page = client.get(reverse("admin:prescriptions_consultation_change", args=[placed.pk]))
    assert "sent" in page.content.decode() and page.status_code == 200
