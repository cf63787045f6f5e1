"""The label of a dispensed line and the patient leaflet, read back from the PDF."""

from io import BytesIO

import pytest
from django.test import Client
from django.urls import reverse
from django.utils import timezone
from pypdf import PdfReader

from catalog.models import MonographSection
from dispensing.labels import SIDE_EFFECTS_STATEMENT
from tests.dispensing.factories import check_as_planned, receive_lot
from tests.factories import make_catalog_staff, make_user_with_verified_email, sign_in

pytestmark = pytest.mark.django_db


def text_of(response) -> str:
    assert response["Content-Type"] == "application/pdf"
    reader = PdfReader(BytesIO(response.content))
    return " ".join(" ".join((page.extract_text() or "").split()) for page in reader.pages)


@pytest.fixture
def dispensed(to_check, package, capture, pharmacy):
    receive_lot(package=package, lot_number="BX2207", expires_in_days=300)
    check_as_planned(to_check, capture=capture)
    return to_check.lines.get()


def test_the_label_prints_everything_the_board_asks_for(dispensed, pharmacist_client, baclofen):
    prescription = dispensed.prescription
    record = dispensed.dispensed.get()
    text = text_of(pharmacist_client.get(reverse("admin:dispensing_label", args=[dispensed.pk])))
    expected = [
        f"Rx {prescription.pk}",
        "Pat Jordan",
        "Baclofen 10 mg tablet",
        "Quantity: 10 tablets",
        "Take 1 tablet three times a day",
        # 90 a fill, two fills authorised, 10 taken by this order: 170 left, one refill.
        "Refills left: 1",
        "Dr. Grace Hopper",
        f"NPI {prescription.prescriber_npi}",
        "Label Test Pharmacy",
        "5 Mortar Lane, Albany, NY 12207",
        "(518) 555-0142",
        "Lot BX2207",
        f"Exp {record.expiry_date:%Y-%m-%d}",
        # The pharmacy's day, not UTC's: in the evening in New York UTC is a day ahead.
        f"Date {timezone.localdate(record.at):%Y-%m-%d}",
        SIDE_EFFECTS_STATEMENT,
    ]
    missing = [line for line in expected if line not in text]
    assert not missing, text


def test_the_labels_warnings_are_the_monographs_rows(dispensed, pharmacist_client, baclofen):
    url = reverse("admin:dispensing_label", args=[dispensed.pk])
    text = text_of(pharmacist_client.get(url))
    stop = " ".join(baclofen.stop_suddenly_warning.split())
    assert baclofen.must_not_stop_suddenly and stop in text
    alcohol = MonographSection.objects.get(drug=baclofen, callout__icontains="alcohol")
    assert " ".join(alcohol.callout.split()) in text
    # A row staff change is what the next label prints: nothing is in the code.
    alcohol.callout = "Keep away from open flames."
    alcohol.save()
    assert "Keep away from open flames." in text_of(pharmacist_client.get(url))


def test_before_the_check_the_label_prints_the_lot_to_pick(
    to_check, package, pharmacy, pharmacist_client
):
    receive_lot(package=package, lot_number="PICKME", expires_in_days=300)
    line = to_check.lines.get()
    text = text_of(pharmacist_client.get(reverse("admin:dispensing_label", args=[line.pk])))
    assert "Lot PICKME" in text
    assert "final check pending" in text


def test_labels_are_for_pharmacists_only(dispensed, client):
    url = reverse("admin:dispensing_label", args=[dispensed.pk])
    assert client.get(url).status_code == 302  # to the sign-in page
    staff = sign_in(Client(), make_catalog_staff())
    assert staff.get(url).status_code == 403
    patient = Client()
    patient.force_login(dispensed.order.patient)
    assert patient.get(url).status_code == 302
    assert patient.get(reverse("admin:dispensing_leaflet", args=[dispensed.pk])).status_code == 302


def test_the_patient_downloads_the_leaflet_of_their_medicine(dispensed, baclofen):
    patient = Client()
    patient.force_login(dispensed.order.patient)
    url = reverse("dispensing:leaflet", args=[dispensed.order.number, dispensed.pk])
    response = patient.get(url)
    assert response["Cache-Control"] == "private, no-store"
    text = text_of(response)
    assert "Baclofen: information for the patient" in text
    assert "Label Test Pharmacy" in text
    assert "Common Baclofen Side Effects" in text
    assert "Serious Side Effects" in text
    # The storefront's own sections are not for the parcel.
    assert not MonographSection.objects.get(
        drug=baclofen, heading="Price and Availability"
    ).in_patient_leaflet
    assert "Price and Availability" not in text
    assert SIDE_EFFECTS_STATEMENT in text


def test_another_patient_cannot_get_the_leaflet_of_an_order(dispensed):
    other = Client()
    other.force_login(make_user_with_verified_email())
    url = reverse("dispensing:leaflet", args=[dispensed.order.number, dispensed.pk])
    assert other.get(url).status_code == 404


def test_a_label_is_refused_until_the_pharmacys_details_are_filled_in(
    to_check, package, pharmacist_client
):
    receive_lot(package=package)
    line = to_check.lines.get()
    response = pharmacist_client.get(reverse("admin:dispensing_label", args=[line.pk]), follow=True)
    assert "pharmacy&#x27;s details are not filled in" in response.content.decode()
