"""The pharmacy ships only to the states it holds an unexpired licence for: the address
form says so before payment, and checkout refuses all the same."""

from datetime import timedelta

import pytest
from django.utils import timezone

from about.models import LicenceKind, StateLicence
from orders import services
from orders.cart import CartLine
from orders.forms import DeliveryAddressForm
from orders.models import DeliveryAddress, Order
from tests.orders.test_checkout import ADDRESS, CHECKOUT, add

NEW_JERSEY = {**ADDRESS, "city": "Newark", "state": "NJ", "zip_code": "07102"}


def licence(state: str, *, days: int = 30) -> StateLicence:
    return StateLicence.objects.create(
        state=state,
        kind=LicenceKind.NON_RESIDENT,
        licence_number=f"{state}-1",
        expires_on=timezone.localdate() + timedelta(days=days),
    )


def test_the_address_form_refuses_a_state_without_a_licence_and_lists_those_with_one(db):
    licence("PA")
    form = DeliveryAddressForm(NEW_JERSEY)
    assert not form.is_valid()
    assert form.errors["state"] == [
        "We cannot ship to New Jersey: the pharmacy is not licensed there. "
        "We ship to: New York, Pennsylvania."
    ]
    assert DeliveryAddressForm(ADDRESS).is_valid()


@pytest.mark.parametrize(("days", "ships"), [(0, True), (-1, False)])
def test_a_licence_is_good_through_its_expiry_date(db, days, ships):
    licence("NJ", days=days)
    assert DeliveryAddressForm(NEW_JERSEY).is_valid() is ships


def test_with_no_licence_at_all_the_pharmacy_ships_nowhere(db):
    StateLicence.objects.all().delete()
    form = DeliveryAddressForm(ADDRESS)
    assert not form.is_valid()
    assert "We cannot ship to New York" in form.errors["state"][0]
    assert "It cannot ship to any state yet." in form.errors["state"][0]


def test_checkout_page_refuses_the_state_before_payment(patient_client, package, verified):
    add(patient_client, package)
    response = patient_client.post(CHECKOUT, NEW_JERSEY)
    html = response.content.decode()
    assert response.status_code == 400
    assert "We cannot ship to New Jersey: the pharmacy is not licensed there." in html
    assert "We ship to: New York." in html
    assert not Order.objects.exists()


def test_the_service_refuses_an_address_kept_from_before_a_licence_lapsed(
    patient, package, verified
):
    """The form is not the only way in: an address saved while New Jersey was licensed."""
    address = DeliveryAddress.objects.create(user=patient, **NEW_JERSEY)
    stock = package.stock
    with pytest.raises(services.CheckoutError) as refused:
        services.order_place(patient=patient, lines=[CartLine(package, 1)], address=address)
    problems = [(p.kind, p.message) for p in refused.value.problems]
    assert problems == [
        (
            "unlicensed_state",
            "We cannot ship to New Jersey: the pharmacy is not licensed there. "
            "We ship to: New York.",
        )
    ]
    package.refresh_from_db()
    assert package.stock == stock and not Order.objects.exists()


def test_the_service_ships_to_a_licensed_state(patient, package, verified):
    licence("NJ")
    address = DeliveryAddress.objects.create(user=patient, **NEW_JERSEY)
    order = services.order_place(patient=patient, lines=[CartLine(package, 1)], address=address)
    assert order.ship_state == "NJ"
