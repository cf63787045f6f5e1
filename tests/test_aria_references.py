"""Screen readers follow aria-describedby and aria-labelledby to ids on the same page:
an id that is not there silently drops the help text or the error. Every main page
(forms with their errors too) is rendered, and every id they name must exist."""

from html.parser import HTMLParser

import pytest
from django.test import Client
from django.urls import reverse

from orders.models import Order, OrderStatus
from tests.factories import make_e_prescription
from tests.orders.factories import (
    baclofen_package,
    make_patient,
    make_verified_prescription,
    place_order,
)

REFERENCES = ("aria-describedby", "aria-labelledby", "aria-controls", "for")


class References(HTMLParser):
    def __init__(self):
        super().__init__()
        self.ids: set[str] = set()
        self.wanted: list[tuple[str, str, str]] = []  # (tag, attribute, id)

    def handle_starttag(self, tag, attrs):
        attributes = dict(attrs)
        if attributes.get("id"):
            self.ids.add(attributes["id"])
        for name in REFERENCES:
            if name == "for" and tag != "label":
                continue
            for target in (attributes.get(name) or "").split():
                self.wanted.append((tag, name, target))


def dangling(html: str) -> list[str]:
    parser = References()
    parser.feed(html)
    return [f"<{t} {a}={i!r}>" for t, a, i in parser.wanted if i not in parser.ids]


def check(response, name: str, problems: list[str]) -> None:
    assert response.status_code in (200, 400, 404), (name, response.status_code)
    problems.extend(f"{name}: {ref}" for ref in dangling(response.content.decode()))


@pytest.fixture
def cart_patient(baclofen):
    """A patient with a verified prescription, a submitted one, an order and a full cart."""
    patient = make_patient()
    make_verified_prescription(patient=patient)
    make_e_prescription(patient=patient)
    order = place_order(patient=patient)
    client = Client()
    client.force_login(patient)
    package = baclofen_package("20 mg")  # not covered: checkout asks for a prescription
    client.post(reverse("orders:cart_add"), {"package": package.pk, "quantity": 1})
    return client, patient, order


def test_every_aria_reference_on_the_main_pages_points_at_an_element(
    client, cart_patient, baclofen
):
    patient_client, patient, order = cart_patient
    problems: list[str] = []

    # Signed out, with and without errors.
    check(client.get("/"), "home", problems)
    check(client.get("/", {"q": "x" * 200}), "search refused", problems)
    check(client.get(baclofen.get_absolute_url()), "drug page", problems)
    check(client.get(reverse("account_login")), "sign-in", problems)
    check(
        client.post(reverse("account_login"), {"login": "", "password": ""}),
        "sign-in errors",
        problems,
    )
    check(client.get(reverse("account_signup")), "sign-up", problems)
    check(
        client.post(
            reverse("account_signup"), {"email": "bad", "password1": "1", "password2": "2"}
        ),
        "sign-up errors",
        problems,
    )
    check(client.get(reverse("account_reset_password")), "password reset", problems)
    check(
        client.post(reverse("account_reset_password"), {"email": "nope"}),
        "password reset errors",
        problems,
    )
    check(client.get("/no-such-page/"), "404", problems)

    # Signed in.
    check(patient_client.get(reverse("accounts:overview")), "account", problems)
    check(patient_client.get(reverse("prescriptions:profile")), "profile", problems)
    check(
        patient_client.post(reverse("prescriptions:profile"), {"date_of_birth": "not a date"}),
        "profile errors",
        problems,
    )
    check(patient_client.get(reverse("prescriptions:list")), "prescriptions", problems)
    prescription = patient.prescriptions.first()
    check(patient_client.get(prescription.get_absolute_url()), "prescription", problems)
    check(patient_client.get(reverse("prescriptions:new")), "upload", problems)
    check(patient_client.post(reverse("prescriptions:new"), {}), "upload errors", problems)
    check(patient_client.get(reverse("orders:cart")), "cart", problems)
    check(patient_client.get(reverse("orders:checkout")), "checkout", problems)
    check(patient_client.post(reverse("orders:checkout"), {}), "checkout errors", problems)
    check(patient_client.get(reverse("orders:list")), "orders", problems)
    check(patient_client.get(order.get_absolute_url()), "order", problems)
    check(patient_client.get(order.get_absolute_url() + "?paid=1"), "order confirming", problems)
    Order.objects.filter(pk=order.pk).update(status=OrderStatus.CANCELLED)
    check(patient_client.get(order.get_absolute_url()), "order cancelled", problems)
    check(patient_client.get(reverse("account_change_password")), "password", problems)
    check(
        patient_client.post(reverse("account_change_password"), {"oldpassword": "x"}),
        "password errors",
        problems,
    )
    check(patient_client.get(reverse("account_email")), "email addresses", problems)

    assert not problems, "aria references to ids that are not on the page:\n" + "\n".join(problems)
