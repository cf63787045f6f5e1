"""How prescription files are served and kept on disk: never as active content, never
readable by another account on the server."""

import stat

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile

from prescriptions.models import PrescriptionDocument
from tests.prescriptions.documents import phone_photo, prescription_pdf

pytestmark = pytest.mark.django_db


def directives(response) -> dict[str, str]:
    header = response["Content-Security-Policy"]
    parts = (part.strip() for part in header.split(";"))
    return {part.split()[0]: part for part in parts if part}


@pytest.fixture
def documents(patient_client):
    files = [
        SimpleUploadedFile("rx.pdf", prescription_pdf(["Rx: baclofen 10 mg"])),
        SimpleUploadedFile("photo.jpg", phone_photo()),
    ]
    response = patient_client.post("/account/prescriptions/new/", {"documents": files})
    assert response.status_code == 302
    return list(PrescriptionDocument.objects.order_by("pk"))


@pytest.mark.parametrize("index", [0, 1], ids=["pdf", "image"])
def test_inline_preview_for_a_pharmacist_is_sandboxed_and_not_sniffed(
    documents, pharmacist_client, index
):
    document = documents[index]

    response = pharmacist_client.get(document.get_absolute_url() + "?inline=1")

    assert response.status_code == 200
    assert response["Content-Type"] == document.content_type
    assert response["Content-Disposition"].startswith("inline;")
    assert response["X-Content-Type-Options"] == "nosniff"
    policy = directives(response)
    assert policy["sandbox"] == "sandbox"  # no allow-scripts, allow-same-origin, ...
    assert policy["default-src"] == "default-src 'none'"
    assert "script-src" not in policy
    assert policy["frame-ancestors"] == "frame-ancestors 'self'"


def test_download_stays_an_attachment_under_the_same_sandbox(documents, pharmacist_client):
    response = pharmacist_client.get(documents[0].get_absolute_url())

    assert response["Content-Disposition"].startswith("attachment;")
    assert response["X-Content-Type-Options"] == "nosniff"
    assert directives(response)["sandbox"] == "sandbox"


def test_patient_asking_for_inline_still_gets_a_sandboxed_attachment(documents, patient_client):
    response = patient_client.get(documents[0].get_absolute_url() + "?inline=1")

    assert response["Content-Disposition"].startswith("attachment;")
    assert directives(response)["sandbox"] == "sandbox"


def test_stored_files_are_readable_by_their_owner_only(documents, private_media):
    for document in documents:
        path = private_media / document.file.name
        assert stat.S_IMODE(path.stat().st_mode) == 0o600
        folder = path.parent
        while folder != private_media.parent:  # .../prescriptions/YYYY/MM up to the root
            assert stat.S_IMODE(folder.stat().st_mode) == 0o700, folder
            folder = folder.parent
