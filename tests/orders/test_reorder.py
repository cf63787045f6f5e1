"""Order again: from the order page or the refill reminder, the same packages go back
in the cart and checkout opens; refused, with checkout's reason, when it is too early,
when the prescription no longer covers them or when a package is no longer sold."""

import re
from datetime import timedelta

from django.core import mail
from django.test import Client
from django.urls import reverse
from django.utils import timezone

from catalog.models import Package
from orders.models import Order, OrderStatus
from orders.services.reminders import send_due_reminders
from tests.factories import make_user_with_verified_email
from tests.orders.factories import (
    baclofen_package,
    make_verified_prescription,
    pay,
    place_order,
)


def _days_ago(order: Order, days: int) -> Order:
    """As if paid (and its supply started) `days` ago."""
    Order.objects.filter(pk=order.pk).update(paid_at=timezone.now() - timedelta(days=days))
    order.refresh_from_db()
    return order


def _reorder_url(order: Order) -> str:
    return reverse("orders:reorder", args=[order.number])


def _cart(client) -> dict[str, int]:
    return dict(client.session.get("cart", {}))


def _said(response) -> list[str]:
    return [str(m) for m in response.context["messages"]]


def test_order_again_fills_the_cart_with_the_same_lines_and_opens_checkout(
    patient_client, paid_order
):
    _days_ago(paid_order, 4)  # 10 tablets at 3 a day: used up
    assert paid_order.status == OrderStatus.DISPATCHED
    page = patient_client.get(paid_order.get_absolute_url()).content.decode()
    assert f'action="{_reorder_url(paid_order)}"' in page

    response = patient_client.post(_reorder_url(paid_order))

    assert response.status_code == 302 and response["Location"] == reverse("orders:checkout")
    package = baclofen_package()
    assert _cart(patient_client) == {str(package.pk): 1}
    checkout = patient_client.get(response["Location"])
    assert checkout.status_code == 200
    assert f"The lines of order {paid_order.number} are in your cart" in " ".join(_said(checkout))
    assert "Baclofen 10 mg tablets, 10 pills" in checkout.content.decode()
    patient_client.post(_reorder_url(paid_order))  # twice: still one package, not two
    assert _cart(patient_client) == {str(package.pk): 1}


def test_the_reminder_link_lands_on_a_confirm_page_and_get_changes_nothing(
    patient_client, paid_order, capture
):
    _days_ago(paid_order, 4)
    with capture(execute=True):
        send_due_reminders(today=timezone.localdate(paid_order.paid_at) + timedelta(days=3))
    link = re.search(r"http://\S+/reorder/", mail.outbox[0].body).group(0)
    path = link.removeprefix("http://127.0.0.1:8000")
    assert path == _reorder_url(paid_order)

    page = patient_client.get(path)

    assert page.status_code == 200
    html = page.content.decode()
    assert "1 × Baclofen 10 mg tablets, 10 pills" in html
    assert f'<form method="post" action="{path}">' in html and "Order again</button>" in html
    assert _cart(patient_client) == {}
    assert patient_client.post(path)["Location"] == reverse("orders:checkout")
    assert _cart(patient_client) == {str(baclofen_package().pk): 1}


def test_order_again_too_early_is_refused_with_the_date_it_may_be_ordered(
    patient_client, paid_order
):
    response = patient_client.post(_reorder_url(paid_order), follow=True)

    assert response.redirect_chain[-1][0] == paid_order.get_absolute_url()
    said = " ".join(_said(response))
    paid_on = timezone.localdate(paid_order.paid_at)
    may_from = paid_on + timedelta(days=3)  # 75 % of 3 days, rounded up
    assert f"You may order it again from {may_from:%B} {may_from.day}, {may_from.year}" in said
    assert _cart(patient_client) == {}
    page = patient_client.get(_reorder_url(paid_order)).content.decode()
    assert "This order cannot be ordered again now" in page
    assert "You may order it again from" in page
    assert "Order again</button>" not in page


def test_order_again_is_refused_when_the_prescription_is_used_up(patient, patient_client, capture):
    make_verified_prescription(patient=patient, quantity=10, refills=0)
    order = _days_ago(pay(place_order(patient=patient), capture), 10)

    response = patient_client.post(_reorder_url(order), follow=True)

    assert response.redirect_chain[-1][0] == order.get_absolute_url()
    assert "no verified prescription of yours covers it" in " ".join(_said(response))
    assert _cart(patient_client) == {}


def test_order_again_takes_fewer_packages_when_the_prescription_covers_fewer(
    patient, patient_client, capture
):
    make_verified_prescription(patient=patient, quantity=30, refills=0)
    order = _days_ago(pay(place_order(patient=patient, quantity=2), capture), 10)  # 10 left

    response = patient_client.post(_reorder_url(order), follow=True)

    said = " ".join(_said(response))
    assert "1 instead of 2, as your prescription covers 10 more tablets" in said
    assert _cart(patient_client) == {str(baclofen_package().pk): 1}


def test_order_again_is_refused_when_the_package_is_no_longer_sold(patient_client, paid_order):
    _days_ago(paid_order, 4)
    Package.objects.filter(pk=baclofen_package().pk).update(active=False)

    response = patient_client.post(_reorder_url(paid_order), follow=True)

    assert "Baclofen 10 mg tablets, 10 pills: no longer sold." in _said(response)
    assert _cart(patient_client) == {}


def test_an_unpaid_order_cannot_be_ordered_again(patient_client, prescribed_patient):
    order = place_order(patient=prescribed_patient)
    assert "Order again" not in patient_client.get(order.get_absolute_url()).content.decode()
    response = patient_client.post(_reorder_url(order), follow=True)
    assert "only an order that was dispatched or delivered can be ordered again" in " ".join(
        _said(response)
    )
    assert _cart(patient_client) == {}


def test_someone_elses_order_is_not_found_and_their_cart_stays_empty(paid_order):
    _days_ago(paid_order, 4)
    other = Client()
    other.force_login(make_user_with_verified_email(email="other@example.com"))
    assert other.get(_reorder_url(paid_order)).status_code == 404
    assert other.post(_reorder_url(paid_order)).status_code == 404
    assert _cart(other) == {}


def test_a_pharmacists_early_refill_allowance_lets_it_through_and_checkout_uses_it(
    patient_client, paid_order
):
    prescription = paid_order.lines.get().prescription
    type(prescription).objects.filter(pk=prescription.pk).update(early_refill_allowed=True)

    response = patient_client.post(_reorder_url(paid_order))

    assert response["Location"] == reverse("orders:checkout")
    prescription.refresh_from_db()
    assert prescription.early_refill_allowed, "used by checkout, not by filling the cart"
