"""What a patient does with prescriptions in the browser, and what stays private."""

import hashlib

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.test import Client
from django.urls import reverse

from prescriptions import services
from prescriptions.models import AuditEvent, Prescription, PrescriptionDocument, Status
from tests.factories import (
    make_e_prescription,
    make_pharmacist,
    make_user_with_verified_email,
    sign_in_staff,
)
from tests.prescriptions.documents import html_page, phone_photo, prescription_pdf

NEW = "/account/prescriptions/new/"


def upload(client, *files, note="Please fill it for 10 mg."):
    return client.post(NEW, {"documents": list(files), "note": note})


def pdf_file(name="rx.pdf", lines=("Rx: baclofen 10 mg",)):
    return SimpleUploadedFile(name, prescription_pdf(list(lines)), content_type="application/pdf")


def test_patient_uploads_a_prescription_and_sees_it_submitted(patient_client, patient, baclofen):
    response = upload(patient_client, pdf_file(), SimpleUploadedFile("p.jpg", phone_photo()))
    prescription = Prescription.objects.get(patient=patient)
    assert response.status_code == 302
    assert response["Location"] == prescription.get_absolute_url()
    assert prescription.documents.count() == 2
    page = patient_client.get(prescription.get_absolute_url()).content.decode()
    assert "Submitted" in page
    assert "Please fill it for 10 mg." in page
    listing = patient_client.get(reverse("prescriptions:list")).content.decode()
    assert f"#{prescription.pk}" in listing


def test_upload_page_is_reachable_from_the_drug_page(client, baclofen):
    html = client.get(baclofen.get_absolute_url()).content.decode()
    assert f"{NEW}?drug=baclofen" in html


@pytest.mark.parametrize(
    ("file", "message"),
    [
        (SimpleUploadedFile("rx.pdf", html_page()), "is not a PDF, JPEG or PNG file"),
        (SimpleUploadedFile("rx.pdf", b""), "is empty"),
    ],
)
def test_a_bad_file_is_refused_with_a_clear_message_and_nothing_is_stored(
    patient_client, patient, private_media, baclofen, file, message
):
    response = upload(patient_client, pdf_file(), file)
    assert response.status_code == 400
    assert message in response.content.decode()
    assert not Prescription.objects.exists()
    assert not PrescriptionDocument.objects.exists()
    assert (
        not any(p.is_file() for p in private_media.rglob("*")) if private_media.exists() else True
    )


def test_files_are_stored_under_a_random_name_outside_any_public_folder(
    patient_client, patient, private_media, settings, baclofen
):
    upload(patient_client, pdf_file(name="Pat Jordan prescription.pdf"))
    document = PrescriptionDocument.objects.get()
    stored = private_media / document.file.name
    assert stored.is_file()
    assert "Jordan" not in document.file.name
    assert not str(stored).startswith(str(settings.STATIC_ROOT))
    assert document.sha256 == hashlib.sha256(stored.read_bytes()).hexdigest()
    for public in (
        f"/media/{document.file.name}",
        f"/static/{document.file.name}",
        f"/{document.file.name}",
    ):
        assert Client().get(public).status_code == 404


def test_the_patient_downloads_their_file_as_a_nosniff_attachment(patient_client, baclofen):
    upload(patient_client, pdf_file())
    document = PrescriptionDocument.objects.get()
    response = patient_client.get(document.get_absolute_url())
    assert response.status_code == 200
    assert response["Content-Type"] == "application/pdf"
    assert response["Content-Disposition"].startswith("attachment;")
    assert response["X-Content-Type-Options"] == "nosniff"
    assert response.content.startswith(b"%PDF")


def test_a_tampered_file_is_not_served(patient_client, private_media, baclofen):
    upload(patient_client, pdf_file())
    document = PrescriptionDocument.objects.get()
    (private_media / document.file.name).write_bytes(b"%PDF-1.4 swapped behind our back")
    response = patient_client.get(document.get_absolute_url())
    assert response.status_code == 500
    assert b"integrity check" in response.content


def test_another_patient_gets_404_and_the_attempt_is_audited(patient_client, patient, baclofen):
    upload(patient_client, pdf_file())
    prescription = Prescription.objects.get()
    document = prescription.documents.get()
    intruder = make_user_with_verified_email(email="nosy@example.com")
    other = Client(REMOTE_ADDR="203.0.113.9")
    other.force_login(intruder)
    for url in (prescription.get_absolute_url(), document.get_absolute_url()):
        response = other.get(url)
        assert response.status_code == 404
        assert "We couldn’t find that page" in response.content.decode()
    denied = AuditEvent.objects.filter(actor=intruder, allowed=False)
    assert denied.count() == 2
    assert {e.ip_address for e in denied} == {"203.0.113.9"}
    assert all(e.patient == patient for e in denied)


def test_the_patients_own_views_are_not_audited(patient_client, baclofen):
    upload(patient_client, pdf_file())
    prescription = Prescription.objects.get()
    patient_client.get(prescription.get_absolute_url())
    patient_client.get(prescription.documents.get().get_absolute_url())
    assert not AuditEvent.objects.exists()


def test_a_pharmacist_download_is_allowed_and_audited(patient_client, patient, baclofen):
    upload(patient_client, pdf_file())
    document = PrescriptionDocument.objects.get()
    pharmacist = make_pharmacist()
    client = Client()
    sign_in_staff(client, pharmacist)
    response = client.get(document.get_absolute_url() + "?inline=1")
    assert response.status_code == 200
    assert response["Content-Disposition"].startswith("inline;")
    event = AuditEvent.objects.get()
    assert (event.actor, event.allowed, event.patient, event.action) == (
        pharmacist,
        True,
        patient,
        AuditEvent.Action.DOWNLOAD_DOCUMENT,
    )


def test_the_patient_answers_a_question_with_a_note_and_a_file(patient_client, patient, baclofen):
    prescription = make_e_prescription(patient=patient)
    services.prescription_request_info(
        prescription_id=prescription.pk,
        pharmacist=make_pharmacist(),
        message="Send page 2, please.",
    )
    page = patient_client.get(prescription.get_absolute_url()).content.decode()
    assert "Send page 2, please." in page
    response = patient_client.post(
        reverse("prescriptions:respond", args=[prescription.pk]),
        {"note": "Here it is.", "documents": [pdf_file(name="page2.pdf")]},
    )
    assert response.status_code == 302
    prescription.refresh_from_db()
    assert prescription.status == Status.SUBMITTED
    assert prescription.documents.count() == 1


def test_an_empty_answer_is_refused(patient_client, patient, baclofen):
    prescription = make_e_prescription(patient=patient)
    services.prescription_request_info(
        prescription_id=prescription.pk, pharmacist=make_pharmacist(), message="?"
    )
    response = patient_client.post(
        reverse("prescriptions:respond", args=[prescription.pk]), {"note": " "}
    )
    assert response.status_code == 400
    assert "Write an answer or add a file." in response.content.decode()
    assert Prescription.objects.get(pk=prescription.pk).status == Status.NEEDS_INFO


def test_rejected_prescription_shows_its_reason(patient_client, patient, baclofen):
    prescription = make_e_prescription(patient=patient)
    services.prescription_reject(
        prescription_id=prescription.pk,
        pharmacist=make_pharmacist(),
        reason="The signature is missing.",
    )
    page = patient_client.get(prescription.get_absolute_url()).content.decode()
    assert "Rejected" in page
    assert "The signature is missing." in page


def test_verified_prescription_past_its_expiry_reads_expired(patient_client, patient, baclofen):
    prescription = make_e_prescription(patient=patient)
    services.prescription_verify(prescription_id=prescription.pk, pharmacist=make_pharmacist())
    Prescription.objects.filter(pk=prescription.pk).update(expiry_date="2000-01-01")
    listing = patient_client.get(reverse("prescriptions:list")).content.decode()
    assert "Expired" in listing


def test_empty_prescription_list_explains_what_to_do(patient_client):
    html = patient_client.get(reverse("prescriptions:list")).content.decode()
    assert "You have no prescriptions with us yet" in html
