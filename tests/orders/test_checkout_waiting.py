"""Checkout of a line no verified prescription covers: the patient chooses one of their
prescriptions still with a pharmacist, or uploads it in checkout; the order is then
placed to be authorised only, and charged once a pharmacist verifies."""

import re

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.test import Client
from django.urls import reverse

from orders.models import CaptureMethod, Order, OrderStatus
from prescriptions.models import Prescription, Source, Status
from prescriptions.uploads import NO_FILES_MESSAGE
from tests.factories import make_e_prescription, make_profile
from tests.orders.factories import make_patient
from tests.prescriptions.documents import blank_pdf, html_page

CHECKOUT = "/checkout/"
ADDRESS = {
    "full_name": "Pat Jordan",
    "line1": "1 Main St",
    "line2": "",
    "city": "Albany",
    "state": "NY",
    "zip_code": "12207",
    "phone": "",
}
AUTHORISE_ONLY = (
    "Your card will be authorised for the order total (the items and the delivery you "
    "choose) now and charged only when a pharmacist "
    "verifies your prescription; if it is not approved, nothing is charged."
)


def add(client, package, quantity=1):
    return client.post("/cart/add/", {"package": package.pk, "quantity": quantity})


def choice(package) -> str:
    return f"line-{package.pk}-choice"


def files(package) -> str:
    return f"line-{package.pk}-documents"


def pdf(name="rx.pdf", content=None):
    return SimpleUploadedFile(name, content or blank_pdf(), content_type="application/pdf")


@pytest.fixture
def waiting(patient, baclofen) -> Prescription:
    """`patient`'s baclofen e-prescription, submitted, not yet verified."""
    return make_e_prescription(patient=patient)


@pytest.fixture
def profiled(patient):
    make_profile(patient)
    return patient


def test_checkout_offers_each_waiting_prescription_and_an_upload(patient_client, package, waiting):
    add(patient_client, package)
    html = patient_client.get(CHECKOUT).content.decode()
    assert "<legend>Prescription for Baclofen 10 mg" in html
    assert f'value="{waiting.pk}"' in html
    assert f"#{waiting.pk}, sent " in html and "submitted, waiting for a pharmacist" in html
    assert 'value="upload"' in html and 'type="file"' in html
    assert 'enctype="multipart/form-data"' in html
    assert AUTHORISE_ONLY in html


def test_the_cart_leads_to_checkout_when_a_line_is_not_covered(patient_client, profiled, package):
    add(patient_client, package)
    html = patient_client.get("/cart/").content.decode()
    assert "Continue to checkout" in html and 'href="/checkout/"' in html


def test_choosing_a_waiting_prescription_places_an_order_that_only_authorises(
    patient_client, patient, package, waiting, stripe_api, stripe_standin
):
    add(patient_client, package)
    response = patient_client.post(CHECKOUT, {**ADDRESS, choice(package): waiting.pk})
    assert response.status_code == 302
    order = Order.objects.get(patient=patient)
    assert response["Location"].startswith(stripe_standin.url)
    assert order.capture_method == CaptureMethod.MANUAL
    assert order.status == OrderStatus.PENDING_PAYMENT
    line = order.lines.get()
    assert (line.prescription_id, line.units_reserved) == (waiting.pk, False)
    package.refresh_from_db()
    assert package.stock == 99


def test_uploading_in_checkout_sends_the_prescription_for_the_lines_medicine(
    patient_client, profiled, package, baclofen, stripe_api
):
    add(patient_client, package)
    response = patient_client.post(
        CHECKOUT, {**ADDRESS, choice(package): "upload", files(package): [pdf()]}
    )
    assert response.status_code == 302
    prescription = Prescription.objects.get(patient=profiled)
    assert (prescription.source, prescription.status) == (Source.UPLOAD, Status.SUBMITTED)
    assert prescription.drug == baclofen
    assert prescription.documents.count() == 1
    line = Order.objects.get(patient=profiled).lines.get()
    assert (line.prescription_id, line.units_reserved) == (prescription.pk, False)


def test_a_refused_file_is_named_next_to_the_field_and_the_address_stays(
    patient_client, profiled, package
):
    add(patient_client, package)
    response = patient_client.post(
        CHECKOUT,
        {**ADDRESS, choice(package): "upload", files(package): [pdf("x.pdf", html_page())]},
    )
    assert response.status_code == 400
    html = response.content.decode()
    assert "“x.pdf” is not a PDF, JPEG or PNG file." in html
    assert f'id="id_line-{package.pk}-documents_error"' in html
    assert "choose its file again" in html
    assert 'value="1 Main St"' in html
    assert not Prescription.objects.exists() and not Order.objects.exists()


def test_choosing_to_upload_without_a_file_asks_for_one(patient_client, profiled, package):
    add(patient_client, package)
    response = patient_client.post(CHECKOUT, {**ADDRESS, choice(package): "upload"})
    assert response.status_code == 400
    assert NO_FILES_MESSAGE in response.content.decode()
    assert not Order.objects.exists()


def test_the_hourly_upload_limit_applies_in_checkout(patient_client, profiled, package, settings):
    settings.PRESCRIPTION_UPLOADS_PER_HOUR = 1
    add(patient_client, package)
    response = patient_client.post(
        CHECKOUT, {**ADDRESS, choice(package): "upload", files(package): [pdf(), pdf("b.pdf")]}
    )
    assert response.status_code == 400
    assert "You can upload at most 1 files an hour" in response.content.decode()
    assert not Prescription.objects.exists() and not Order.objects.exists()


def test_another_patients_prescription_is_refused_with_a_clear_error(
    patient_client, patient, package, baclofen
):
    make_profile(patient)
    theirs = make_e_prescription(patient=make_patient(first_name="Olivia", last_name="Owens"))
    add(patient_client, package)
    response = patient_client.post(CHECKOUT, {**ADDRESS, choice(package): theirs.pk})
    assert response.status_code == 400
    html = response.content.decode()
    assert "That prescription is not one of yours waiting for a pharmacist" in html
    assert f"#{theirs.pk}" not in html
    assert not Order.objects.exists()
    package.refresh_from_db()
    assert package.stock == 100


def test_a_verified_prescription_is_not_offered_as_waiting(
    patient_client, patient, package, verified
):
    """A line covered by a verified prescription keeps today's checkout: no choice."""
    add(patient_client, package)
    html = patient_client.get(CHECKOUT).content.decode()
    # No prescription choice (the delivery choice is the only group of radio buttons).
    assert f'name="{choice(package)}"' not in html and 'type="file"' not in html
    assert html.count("<legend>") == 1 and "<legend>Delivery</legend>" in html
    assert "authorised for" not in html


def test_patients_whose_lines_are_covered_are_charged_at_checkout_as_today(
    patient_client, patient, package, verified, stripe_api
):
    add(patient_client, package)
    response = patient_client.post(CHECKOUT, {**ADDRESS, choice(package): "upload"})
    assert response.status_code == 302
    order = Order.objects.get(patient=patient)
    assert order.capture_method == CaptureMethod.AUTOMATIC
    assert order.lines.get().units_reserved
    assert not Prescription.objects.filter(source=Source.UPLOAD).exists()


def test_an_upload_whose_order_is_refused_stays_and_is_offered_next_time(
    patient_client, profiled, package
):
    add(patient_client, package)
    type(package).objects.filter(pk=package.pk).update(stock=0)
    response = patient_client.post(
        CHECKOUT, {**ADDRESS, choice(package): "upload", files(package): [pdf()]}
    )
    assert response.status_code == 409
    html = response.content.decode()
    assert "out of stock" in html
    prescription = Prescription.objects.get(patient=profiled)
    assert prescription.status == Status.SUBMITTED
    assert re.search(rf'<input type="radio"[^>]*value="{prescription.pk}"[^>]*checked', html)
    assert 'value="1 Main St"' in html
    assert not Order.objects.exists()


def test_checkout_page_query_count(patient_client, package, waiting, django_assert_max_num_queries):
    """One query lists the waiting prescriptions for every line not covered."""
    add(patient_client, package)
    # One more since checkout offers delivery options (orders.delivery), one fewer since
    # the cart's coverage and holds come from one query.
    with django_assert_max_num_queries(8):
        assert patient_client.get(CHECKOUT).status_code == 200


def test_covered_checkout_page_query_count(
    patient_client, package, verified, django_assert_max_num_queries
):
    add(patient_client, package)
    with django_assert_max_num_queries(7):  # 6, and the delivery options
        assert patient_client.get(CHECKOUT).status_code == 200


def test_an_authorised_order_says_nothing_is_charged_and_can_be_cancelled(authorised):
    order, prescription = authorised
    client = Client()
    client.force_login(order.patient)
    html = client.get(order.get_absolute_url()).content.decode()
    assert "Card authorised, waiting for the pharmacist: nothing is charged yet." in html
    assert (
        f'<a href="{prescription.get_absolute_url()}">prescription #{prescription.pk}</a>' in html
    )
    assert "Cancel order" in html and "Pay now" not in html
    response = client.post(reverse("orders:cancel", args=[order.number]), follow=True)
    order.refresh_from_db()
    assert order.status == OrderStatus.CANCELLED
    assert "Nothing was charged." in response.content.decode()


def test_another_patient_cannot_cancel_an_authorised_order(authorised, patient_client):
    order, _ = authorised
    assert patient_client.post(reverse("orders:cancel", args=[order.number])).status_code == 404
    order.refresh_from_db()
    assert order.status == OrderStatus.AUTHORISED
