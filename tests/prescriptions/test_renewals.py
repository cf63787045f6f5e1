"""Renewals: the patient asks, the request goes to the partner who wrote the prescription
through the outbox (signed, retried, kept once by the partner), and the partner answers
with a new prescription linked to the old one, or declines. An uploaded prescription's
renewal is a page for the patient's prescriber. Every exchange is in the audit trail."""

import json
import time
from datetime import timedelta

import pytest
from django.conf import settings
from django.core import mail
from django.test import Client
from django.urls import reverse
from django.utils import timezone

from devtools.partner_standin import PartnerStandin
from prescriptions.intake import sign
from prescriptions.models import (
    PartnerExchange,
    PartnerRequest,
    Prescription,
    RenewalRequest,
)
from prescriptions.services import (
    partner_requests_send_due,
    renewal_need,
    renewal_request,
)
from tests.factories import make_partner, make_user_with_verified_email
from tests.orders.factories import make_verified_prescription


@pytest.fixture
def standin():
    server = PartnerStandin(slug="renew-health", secret="tmsec_renewals_test").start()
    yield server
    server.stop()


@pytest.fixture
def partner(db, standin):
    return make_partner(slug=standin.slug, secret=standin.secret, requests_url=standin.requests_url)


@pytest.fixture
def patient(db):
    return make_user_with_verified_email(first_name="Pat", last_name="Jordan")


def used_up(prescription: Prescription) -> Prescription:
    Prescription.objects.filter(pk=prescription.pk).update(
        units_used=prescription.quantity * (prescription.refills + 1)
    )
    prescription.refresh_from_db()
    return prescription


@pytest.fixture
def finished(patient, partner, baclofen):
    """The patient's verified partner prescription, its units all used."""
    return used_up(make_verified_prescription(patient=patient, partner=partner))


def ask(capture, prescription, patient) -> RenewalRequest:
    with capture(execute=True):
        return renewal_request(prescription_id=prescription.pk, patient=patient)


@pytest.fixture
def capture(django_capture_on_commit_callbacks):
    return django_capture_on_commit_callbacks


def send_intake(partner, body: dict, *, offset: int = 0):
    raw = json.dumps(body).encode()
    return Client().post(
        "/api/telemedicine/prescriptions/",
        raw,
        content_type="application/json",
        HTTP_X_PARTNER=partner.slug,
        HTTP_TELEMEDICINE_SIGNATURE=sign(
            secret=partner.secret, body=raw, timestamp=int(time.time()) - offset
        ),
    )


# When a renewal is due -------------------------------------------------------------


def test_a_prescription_with_units_left_and_time_to_run_is_not_due(patient, partner, baclofen):
    prescription = make_verified_prescription(patient=patient, partner=partner)
    need = renewal_need(prescription)
    assert not need.due
    assert "still has 180 units" in need.reason


def test_used_up_expiring_or_expired_prescriptions_are_due(patient, partner, baclofen, settings):
    prescription = make_verified_prescription(patient=patient, partner=partner)
    today = timezone.localdate()
    assert renewal_need(used_up(prescription)).reason == "its refills are used up"
    Prescription.objects.filter(pk=prescription.pk).update(
        units_used=0, expiry_date=today + timedelta(days=settings.RENEWAL_DAYS_BEFORE_EXPIRY)
    )
    prescription.refresh_from_db()
    assert renewal_need(prescription).reason.startswith("it expires on")
    Prescription.objects.filter(pk=prescription.pk).update(expiry_date=today - timedelta(days=1))
    prescription.refresh_from_db()
    assert renewal_need(prescription).reason.startswith("it expired on")


def test_asking_before_it_is_due_is_refused_with_the_reason(patient, partner, baclofen, capture):
    from django.core.exceptions import ValidationError

    prescription = make_verified_prescription(patient=patient, partner=partner)
    with pytest.raises(ValidationError, match="does not need renewing yet: it still has"):
        ask(capture, prescription, patient)
    assert not RenewalRequest.objects.exists()


# The partner's side ----------------------------------------------------------------


def test_the_request_reaches_the_partner_signed_and_the_patient_is_told(
    finished, patient, standin, capture
):
    renewal = ask(capture, finished, patient)

    assert renewal.state == RenewalRequest.State.SENT
    outbound = PartnerRequest.objects.get()
    assert outbound.state == PartnerRequest.State.DELIVERED
    [received] = standin.received.values()  # the stand-in checked the signature
    assert received.request_id == str(outbound.request_id)
    asked = received.payload
    assert asked["type"] == "renewal_request"
    assert asked["prescription_id"] == finished.partner_reference
    assert asked["medication"] == {
        "drug": "baclofen",
        "form": "tablet",
        "strength": "10 mg",
        "rxnorm": "197391",
    }
    assert asked["reason"] == "its refills are used up"
    [sent] = PartnerExchange.objects.filter(direction="out")
    assert (sent.status_code, sent.prescription) == (202, finished)
    [email] = [m for m in mail.outbox if "renew" in m.subject]
    assert email.subject == (
        f"We asked {finished.partner.name} to renew your prescription #{finished.pk}"
        f" - {settings.SITE_NAME}"
    )


def test_asking_twice_is_one_request(finished, patient, standin, capture):
    first = ask(capture, finished, patient)
    assert ask(capture, finished, patient) == first
    assert PartnerRequest.objects.count() == 1 and len(standin.received) == 1


def test_a_partner_down_for_a_while_gets_the_request_once_when_back(
    finished, patient, standin, capture
):
    standin.down = True
    ask(capture, finished, patient)
    outbound = PartnerRequest.objects.get()
    assert (outbound.state, outbound.attempts) == (PartnerRequest.State.PENDING, 1)
    assert outbound.next_attempt_at > timezone.now()

    later = timezone.now() + timedelta(minutes=5)
    partner_requests_send_due(now=later)  # still down: the backoff grows
    outbound.refresh_from_db()
    assert outbound.attempts == 2
    standin.down = False
    partner_requests_send_due(now=later + timedelta(hours=1))

    outbound.refresh_from_db()
    assert outbound.state == PartnerRequest.State.DELIVERED
    assert len(standin.received) == 1
    [received] = standin.received.values()
    assert received.deliveries == 1
    statuses = list(
        PartnerExchange.objects.filter(direction="out")
        .order_by("at")
        .values_list("status_code", flat=True)
    )
    assert statuses == [503, 503, 202]


def test_a_redelivery_after_a_lost_answer_is_kept_once_by_the_partner(
    finished, patient, standin, capture
):
    ask(capture, finished, patient)
    # The partner's answer was lost: our side did not record the delivery.
    PartnerRequest.objects.update(state=PartnerRequest.State.PENDING)
    partner_requests_send_due(now=timezone.now() + timedelta(minutes=1))

    [received] = standin.received.values()
    assert received.deliveries == 2  # the same X-Request-Id: one request at the partner
    assert PartnerRequest.objects.get().state == PartnerRequest.State.DELIVERED


def test_a_request_the_partner_refuses_becomes_one_for_the_prescriber(
    finished, patient, partner, capture
):
    partner.secret = "tmsec_not_the_one_the_partner_knows"  # the partner answers 401
    partner.save()
    renewal = ask(capture, finished, patient)

    renewal.refresh_from_db()
    assert PartnerRequest.objects.get().state == PartnerRequest.State.FAILED
    assert renewal.state == RenewalRequest.State.FOR_PRESCRIBER
    subjects = [m.subject for m in mail.outbox if "renew" in m.subject.lower()]
    expected = f"Your renewal request for prescription #{finished.pk}: give it to your prescriber"
    assert f"{expected} - {settings.SITE_NAME}" in subjects


@pytest.mark.django_db(transaction=True, serialized_rollback=True)
def test_the_partner_renews_through_the_intake_and_the_two_are_linked(
    live_server, settings, finished, patient, standin, capture
):
    settings.SITE_URL = live_server.url  # where the partner sends its answer
    renewal = ask(capture, finished, patient)
    with capture(execute=True):
        status, answer = standin.approve(str(renewal.partner_request.request_id))

    assert status == 201
    renewal.refresh_from_db()
    assert renewal.state == RenewalRequest.State.RENEWED
    new = renewal.new_prescription
    assert new.pk == answer["id"] and new.patient == patient and new.status == "submitted"
    assert new.renews == renewal
    assert any(
        m.subject.startswith(f"Your prescription #{finished.pk} was renewed - ")
        for m in mail.outbox
    )


def test_a_renewal_naming_a_prescription_the_partner_never_sent_is_refused(
    partner, patient, baclofen
):
    response = send_intake(
        partner,
        {
            "prescription_id": "TM-NEW-1",
            "renews": "TM-NEVER",
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
        },
    )
    assert response.status_code == 400
    assert "You sent no prescription 'TM-NEVER' to renew." in response.json()["errors"]["renews"]
    assert not Prescription.objects.filter(partner_reference="TM-NEW-1").exists()


@pytest.mark.django_db(transaction=True, serialized_rollback=True)
def test_the_partner_declines_with_a_reason_the_patient_reads(
    live_server, settings, finished, patient, standin, capture
):
    settings.SITE_URL = live_server.url
    renewal = ask(capture, finished, patient)
    request_id = str(renewal.partner_request.request_id)
    with capture(execute=True):
        status, _ = standin.decline(request_id, "Please book a video visit first.")
        again, _ = standin.decline(request_id, "A second answer changes nothing.")

    assert (status, again) == (200, 200)
    renewal.refresh_from_db()
    assert renewal.state == RenewalRequest.State.DECLINED
    assert renewal.decline_reason == "Please book a video visit first."
    [email] = [m for m in mail.outbox if "was not renewed" in m.subject]
    assert "Please book a video visit first." in email.body


def test_declining_a_request_never_sent_to_that_partner_is_404(partner, db):
    raw = json.dumps({"reason": "no"}).encode()
    response = Client().post(
        "/api/telemedicine/requests/7f1c8d2e-0000-4000-8000-000000000001/decline/",
        raw,
        content_type="application/json",
        HTTP_X_PARTNER=partner.slug,
        HTTP_TELEMEDICINE_SIGNATURE=sign(
            secret=partner.secret, body=raw, timestamp=int(time.time())
        ),
    )
    assert response.status_code == 404


# The patient's side ----------------------------------------------------------------


def test_the_prescription_page_offers_the_renewal_when_due(finished, patient, client):
    client.force_login(patient)
    page = client.get(finished.get_absolute_url()).content.decode()
    assert "Ask for a renewal" in page
    assert "its refills are used up" in page
    assert f"We send the request to {finished.partner.name}" in page


def test_without_a_partner_to_ask_the_patient_gets_a_request_for_the_prescriber(
    patient, baclofen, client
):
    prescription = used_up(make_verified_prescription(patient=patient))  # partner: no URL
    client.force_login(patient)

    url = reverse("prescriptions:renewal", args=[prescription.pk])
    response = client.post(url)

    assert response.status_code == 302
    assert response["Location"] == url
    page = client.get(response["Location"]).content.decode()
    assert "Your patient asks for a new prescription" in page
    assert "Baclofen 10 mg tablet" in page and "its refills are used up" in page
    assert RenewalRequest.objects.get().state == RenewalRequest.State.FOR_PRESCRIBER
    assert not PartnerRequest.objects.exists()


def test_another_patient_cannot_ask_or_see_the_renewal(finished, patient, client, capture):
    ask(capture, finished, patient)
    stranger = make_user_with_verified_email(email="sam@example.com")
    client.force_login(stranger)
    url = reverse("prescriptions:renewal", args=[finished.pk])
    assert client.post(url).status_code == 404
    assert client.get(url).status_code == 404


# The audit trail -------------------------------------------------------------------


def test_every_request_a_partner_sends_is_recorded_whatever_the_answer(partner, db):
    raw = b'{"prescription_id": 1}'
    Client().post(
        "/api/telemedicine/prescriptions/",
        raw,
        content_type="application/json",
        HTTP_X_PARTNER=partner.slug,
        HTTP_TELEMEDICINE_SIGNATURE=sign(
            secret=partner.secret, body=raw, timestamp=int(time.time())
        ),
    )
    Client().post(
        "/api/telemedicine/prescriptions/",
        raw,
        content_type="application/json",
        HTTP_X_PARTNER="nobody",
    )
    rows = list(PartnerExchange.objects.order_by("at"))
    assert [(r.partner, r.status_code) for r in rows] == [(partner, 400), (None, 401)]
    assert rows[0].body_size == len(raw) and len(rows[0].body_sha256) == 64
    assert "prescription_id" in rows[0].outcome
    assert rows[1].partner_slug == "nobody"


def test_pharmacists_read_the_exchanges_and_renewals_in_the_admin(
    finished, patient, capture, client
):
    from tests.factories import make_pharmacist, sign_in_staff

    ask(capture, finished, patient)
    sign_in_staff(client, make_pharmacist())
    exchanges = client.get("/admin/prescriptions/partnerexchange/").content.decode()
    assert "Sent to the partner" in exchanges and "HTTP 202" in exchanges
    renewals = client.get("/admin/prescriptions/renewalrequest/").content.decode()
    assert f"#{finished.pk}" in renewals and "Sent to the prescriber" in renewals
    assert patient.email not in renewals  # no patient data listed here
