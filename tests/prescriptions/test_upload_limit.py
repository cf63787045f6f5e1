"""An account may send only so many files an hour to be checked, counted in the
database so that the limit holds across web processes."""

from datetime import timedelta

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.urls import reverse
from django.utils import timezone

from prescriptions import services
from prescriptions.models import Prescription, PrescriptionDocument, Status, UploadCheck
from tests.factories import make_e_prescription, make_pharmacist, make_user_with_verified_email
from tests.prescriptions.documents import blank_pdf, html_page

NEW = "/account/prescriptions/new/"
pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def three_files_an_hour(settings):
    settings.PRESCRIPTION_UPLOADS_PER_HOUR = 3


def pdfs(count: int, content: bytes | None = None) -> list[SimpleUploadedFile]:
    return [SimpleUploadedFile(f"p{n}.pdf", content or blank_pdf()) for n in range(count)]


def upload(client, files):
    return client.post(NEW, {"documents": files})


def hh_mm_after(moment, delta=timedelta(hours=1)) -> str:
    local = timezone.localtime(moment + delta)
    if local.second or local.microsecond:
        local += timedelta(minutes=1)
    return f"{local:%H:%M}"


def test_upload_over_the_hourly_limit_is_refused_saying_until_when(patient_client, patient):
    assert upload(patient_client, pdfs(2)).status_code == 302
    assert upload(patient_client, pdfs(1)).status_code == 302
    first = UploadCheck.objects.filter(user=patient).earliest("at")

    response = upload(patient_client, pdfs(1))

    assert response.status_code == 400
    assert (
        "You have uploaded 3 files in the last hour; "
        f"try again after {hh_mm_after(first.at)}." in response.content.decode()
    )
    assert Prescription.objects.filter(patient=patient).count() == 2
    assert PrescriptionDocument.objects.count() == 3


def test_the_time_given_is_when_enough_files_are_an_hour_old(patient_client, patient):
    now = timezone.now()
    UploadCheck.objects.create(user=patient, files=1, at=now - timedelta(minutes=50))
    second = UploadCheck.objects.create(user=patient, files=2, at=now - timedelta(minutes=20))

    response = upload(patient_client, pdfs(2))  # 3 sent; 2 more fit once the 2 are old

    assert f"try again after {hh_mm_after(second.at)}." in response.content.decode()


def test_files_refused_by_the_checks_count_too(patient_client, patient):
    for _ in range(3):
        assert upload(patient_client, pdfs(1, html_page())).status_code == 400

    response = upload(patient_client, pdfs(1))

    assert "You have uploaded 3 files in the last hour" in response.content.decode()
    assert not Prescription.objects.exists()


def test_files_sent_over_an_hour_ago_no_longer_count(patient_client, patient):
    UploadCheck.objects.create(user=patient, files=3, at=timezone.now() - timedelta(minutes=61))

    assert upload(patient_client, pdfs(3)).status_code == 302
    (check,) = UploadCheck.objects.filter(user=patient)  # the old row is gone
    assert check.files == 3
    assert timezone.now() - check.at < timedelta(minutes=1)


def test_other_accounts_do_not_use_up_a_patients_limit(patient_client, patient):
    UploadCheck.objects.create(user=make_user_with_verified_email(), files=3)

    assert upload(patient_client, pdfs(3)).status_code == 302
    assert UploadCheck.objects.get(user=patient).files == 3


def test_batch_larger_than_the_hourly_limit_is_refused(patient_client, settings):
    settings.PRESCRIPTION_UPLOADS_PER_HOUR = 2

    response = upload(patient_client, pdfs(3))

    assert response.status_code == 400
    assert "You can upload at most 2 files an hour" in response.content.decode()
    assert not UploadCheck.objects.exists()


def test_answer_to_a_pharmacists_question_counts_against_the_limit(patient_client, patient):
    prescription = make_e_prescription(patient=patient)
    services.prescription_request_info(
        prescription_id=prescription.pk, pharmacist=make_pharmacist(), message="Page 2?"
    )
    UploadCheck.objects.create(user=patient, files=3)

    response = patient_client.post(
        reverse("prescriptions:respond", args=[prescription.pk]),
        {"note": "Here it is.", "documents": pdfs(1)},
    )

    assert response.status_code == 400
    assert "You have uploaded 3 files in the last hour" in response.content.decode()
    prescription.refresh_from_db()
    assert prescription.status == Status.NEEDS_INFO
    assert not prescription.documents.exists()
