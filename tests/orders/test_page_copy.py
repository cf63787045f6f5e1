"""A patient's cart, order page and orders list come from the process's copy while
nothing they show has changed (orders/page_copy.py), and every change shows at once:
a repeat view costs no query, and after each step of an order's life the page served
is the page a fresh render shows."""

import re
from datetime import timedelta
from decimal import Decimal

import pytest
from django.db import transaction
from django.test import Client
from django.utils import timezone

from orders import services
from orders.models import Order, OrderLine, OrderStatusChange
from orders.page_copy import forget_copies
from pharmacy import page_versions
from prescriptions.models import Prescription
from prescriptions.services import prescription_reserve_units, prescription_verify
from tests.dispensing.factories import release
from tests.factories import make_e_prescription, sign_in_staff
from tests.orders.factories import make_patient, make_verified_prescription, pay, place_order

CART = "/cart/"
TOKEN = re.compile(r'name="csrfmiddlewaretoken" value="([^"]+)"')


@pytest.fixture(autouse=True)
def copies_on(settings):
    settings.USER_PAGE_COPY_SECONDS = 60
    settings.USER_CACHE_SECONDS = 60
    settings.SESSION_ENGINE = "accounts.sessions"


def signed_in(user, **kwargs) -> Client:
    client = Client(**kwargs)
    client.force_login(user)
    return client


def in_cart(client, package, quantity: int = 1) -> None:
    session = client.session
    session["cart"] = {str(package.pk): quantity}
    session["cart_count"] = quantity
    session.save()


def page(client, path: str) -> str:
    response = client.get(path)
    assert response.status_code == 200
    return TOKEN.sub('name="csrfmiddlewaretoken" value="-"', response.content.decode())


def fresh(client, path: str, settings) -> str:
    """The page as a render without copies shows it."""
    settings.USER_PAGE_COPY_SECONDS = 0
    try:
        return page(client, path)
    finally:
        settings.USER_PAGE_COPY_SECONDS = 60


def assert_current(client, path: str, settings) -> str:
    served = page(client, path)
    assert served == fresh(client, path, settings)
    return served


def test_a_repeat_view_of_the_cart_and_the_order_page_costs_no_query(
    prescribed_patient, package, django_assert_num_queries
):
    order = place_order(patient=prescribed_patient)
    client = signed_in(prescribed_patient)
    in_cart(client, package, 2)
    first_cart, first_order = page(client, CART), page(client, order.get_absolute_url())
    first_orders = page(client, "/orders/")

    with django_assert_num_queries(0):
        cart = page(client, CART)
    with django_assert_num_queries(0):
        order_page = page(client, order.get_absolute_url())
    with django_assert_num_queries(0):
        orders = page(client, "/orders/")

    assert cart == first_cart and 'value="2"' in cart and "Covered" in cart
    assert order_page == first_order and order.number in order_page and "Pay now" in order_page
    assert orders == first_orders and order.number in orders


def test_after_each_step_of_an_order_the_pages_are_what_a_fresh_render_shows(
    prescribed_patient, package, capture, settings, orders_any_day
):
    patient = prescribed_patient
    client = signed_in(patient)
    in_cart(client, package)
    order, cancelled, refunded = (place_order(patient=patient) for _ in range(3))
    paths = [o.get_absolute_url() for o in (order, cancelled, refunded)] + [CART, "/orders/"]
    shown = {}

    def step(action) -> None:
        for path in paths:
            page(client, path)  # copied now
        action()
        for path in paths:
            shown[path] = assert_current(client, path, settings)

    step(lambda: pay(order, capture))
    assert "Payment received" in shown[paths[0]]
    step(lambda: release(order, capture=capture))  # the final check, then the courier
    assert 'id="tracking-number"' in shown[paths[0]]
    step(lambda: services.order_mark_delivered(order_id=order.pk))
    assert "Delivered with" in shown[paths[0]]
    step(lambda: services.order_cancel(order_id=cancelled.pk, note="Cancelled by the patient"))
    assert "This order was cancelled" in shown[paths[1]]
    step(lambda: pay(refunded, capture))
    step(lambda: services.order_mark_refunded(order_id=refunded.pk, note="Refunded"))
    assert "This order was refunded" in shown[paths[2]]
    assert "Refunded" in shown["/orders/"]


def test_units_used_by_a_queryset_update_show_on_the_cart_at_once(patient, package, settings):
    prescription = make_verified_prescription(patient=patient)
    client = signed_in(patient)
    in_cart(client, package)
    before = page(client, CART)
    page(client, CART)

    assert prescription_reserve_units(prescription_id=prescription.pk, units=20)
    after = assert_current(client, CART, settings)
    assert after != before


def test_a_pharmacist_decision_shows_on_the_cart_at_once(patient, package, pharmacist, settings):
    prescription = make_e_prescription(patient=patient)
    client = signed_in(patient)
    in_cart(client, package)
    assert "No prescription" in page(client, CART)
    page(client, CART)

    prescription_verify(
        prescription_id=prescription.pk, pharmacist=pharmacist, warnings_acknowledged=True
    )
    assert "Covered" in assert_current(client, CART, settings)


def test_a_cart_change_shows_at_once_with_its_message(prescribed_patient, package):
    client = signed_in(prescribed_patient)
    in_cart(client, package)
    page(client, CART)
    assert 'value="1"' in page(client, CART)

    client.post("/cart/update/", {"package": package.pk, "quantity": 3})
    html = page(client, CART)
    assert 'value="3"' in html and "Your cart was updated." in html
    html = page(client, CART)
    assert 'value="3"' in html and "Your cart was updated." not in html

    client.post("/cart/update/", {"package": package.pk, "quantity": 0})
    assert "Your cart is empty" in page(client, CART)


def test_a_message_is_shown_on_the_copied_page_rather_than_swallowed(prescribed_patient, package):
    """A refused update leaves the cart (and the session) as it was: only the message is
    new, and the page with it is rendered, not the copy."""
    client = signed_in(prescribed_patient)
    in_cart(client, package)
    copied = page(client, CART)
    assert page(client, CART) == copied

    client.post("/cart/update/", {"package": package.pk, "quantity": "many"})
    html = page(client, CART)
    assert "message--error" in html or "Enter a whole number" in html
    assert html != copied
    assert page(client, CART) == copied  # shown once


def test_a_price_edit_shows_on_the_cart_at_once_in_the_process_that_made_it(
    prescribed_patient, package, capture, settings
):
    client = signed_in(prescribed_patient)
    in_cart(client, package)
    page(client, CART)
    assert f"${package.price}" in page(client, CART)

    package.price = Decimal("77.70")
    with capture(execute=True):
        package.save()
    assert "$77.70" in assert_current(client, CART, settings)


def test_another_patient_never_gets_my_copy(prescribed_patient, package):
    mine = signed_in(prescribed_patient)
    in_cart(mine, package)
    page(mine, CART)
    assert "Pat Jordan" in page(mine, CART)

    other = make_patient(first_name="Quinn", last_name="Other")
    theirs = signed_in(other)
    in_cart(theirs, package)
    html = page(theirs, CART)
    assert "Quinn Other" in html and "Pat Jordan" not in html and "No prescription" in html


def test_the_csrf_token_of_a_copied_page_is_this_request_s_and_is_accepted(
    prescribed_patient, package, django_assert_num_queries
):
    client = signed_in(prescribed_patient, enforce_csrf_checks=True)
    in_cart(client, package)
    client.get(CART)
    with django_assert_num_queries(0):
        first = client.get(CART).content.decode()
    with django_assert_num_queries(0):
        second = client.get(CART).content.decode()
    tokens = set(TOKEN.findall(first)), set(TOKEN.findall(second))
    assert len(tokens[0]) == 1 and len(tokens[1]) == 1 and tokens[0] != tokens[1]
    assert "@@personal" not in first

    response = client.post(
        "/cart/update/",
        {"package": package.pk, "quantity": 2, "csrfmiddlewaretoken": tokens[1].pop()},
    )
    assert response.status_code == 302
    assert 'value="2"' in client.get(CART).content.decode()


def test_a_copied_page_carries_the_headers_of_a_fresh_one(prescribed_patient, package, settings):
    client = signed_in(prescribed_patient)
    in_cart(client, package)
    settings.USER_PAGE_COPY_SECONDS = 0
    rendered = client.get(CART)
    settings.USER_PAGE_COPY_SECONDS = 60
    client.get(CART)
    copied = client.get(CART)
    assert dict(copied.headers) == dict(rendered.headers)
    assert copied["Cache-Control"] == "private, no-store"


def test_staff_get_no_copies(pharmacist, package, django_assert_max_num_queries):
    client = sign_in_staff(Client(), pharmacist)
    in_cart(client, package)
    client.get(CART)
    with django_assert_max_num_queries(20) as queries:
        client.get(CART)
    assert len(queries) > 0


def test_a_payable_order_s_copy_ends_at_its_payment_deadline(prescribed_patient, monkeypatch):
    order = place_order(patient=prescribed_patient)
    client = signed_in(prescribed_patient)
    assert "Pay now" in page(client, order.get_absolute_url())
    page(client, order.get_absolute_url())
    # The deadline passes without any write (the expiry sweep has not run yet).
    Order.objects.filter(pk=order.pk).update(payment_due_by=timezone.now() + timedelta(seconds=1))
    assert "Pay now" in page(client, order.get_absolute_url())  # copied with the new deadline
    later = timezone.now() + timedelta(seconds=5)
    monkeypatch.setattr(timezone, "now", lambda: later)
    assert "Pay now" not in page(client, order.get_absolute_url())


class RaisingCache:
    def __getattr__(self, name):
        def fail(*args, **kwargs):
            raise ConnectionError("Redis is unreachable")

        return fail


def test_pages_and_writes_go_on_when_the_tokens_cannot_be_reached(
    prescribed_patient, package, monkeypatch
):
    client = signed_in(prescribed_patient)
    in_cart(client, package)
    monkeypatch.setattr(page_versions, "cache", RaisingCache())
    forget_copies()

    assert "Covered" in page(client, CART)
    Prescription.objects.filter(patient=prescribed_patient).update(units_used=10)  # no error
    assert "Covered" in page(client, CART)


@pytest.mark.django_db(transaction=True, serialized_rollback=True)
def test_the_token_moves_at_once_and_again_on_commit():
    """Again on commit: a page rendered between the two read the rows as they were."""
    patient = make_patient()
    token = page_versions.current_token(patient.pk)
    with transaction.atomic():
        patient.first_name = "Patricia"
        patient.save()
        moved = page_versions.current_token(patient.pk)
        assert moved != token
    assert page_versions.current_token(patient.pk) not in (token, moved)


@pytest.mark.django_db(transaction=True, serialized_rollback=True)
def test_a_transaction_writes_its_tokens_once_and_its_own_reads_see_each_change(monkeypatch):
    """A worker, which reads no page, writes each changed token once per transaction;
    the thread that changed a row still sees a new token on its next read, before the
    commit."""
    patient, other = make_patient(), make_patient()
    token = page_versions.current_token(patient.pk)
    writes = []
    move = page_versions._move
    monkeypatch.setattr(page_versions, "_move", lambda ids: (writes.append(set(ids)), move(ids)))

    with transaction.atomic():
        for name in ("Pat", "Patricia", "Patty"):
            patient.first_name = name
            patient.save()
        other.first_name = "Olive"
        other.save()
        assert writes == []
    assert writes == [{patient.pk, other.pk}]

    writes.clear()
    with transaction.atomic():
        patient.first_name = "Paula"
        patient.save()
        during = page_versions.current_token(patient.pk)
        assert during != token
        assert page_versions.current_token(patient.pk) == during  # moved once, not per read
    assert writes == [{patient.pk}, {patient.pk}]
    assert page_versions.current_token(patient.pk) not in (token, during)


def test_a_new_name_shows_on_the_copied_cart_at_once(
    prescribed_patient, package, capture, settings
):
    client = signed_in(prescribed_patient)
    in_cart(client, package)
    page(client, CART)
    assert "Pat Jordan" in page(client, CART)

    prescribed_patient.first_name = "Patricia"
    with capture(execute=True):  # the user's own copy is dropped on commit
        prescribed_patient.save()
    assert "Patricia Jordan" in assert_current(client, CART, settings)


def test_bulk_writes_and_related_updates_move_the_patient_s_token(prescribed_patient):
    order = place_order(patient=prescribed_patient)
    tokens = [page_versions.current_token(prescribed_patient.pk)]

    OrderLine.objects.bulk_update(list(order.lines.all()), ["quantity"])
    tokens.append(page_versions.current_token(prescribed_patient.pk))
    order.lines.update(quantity=1)
    tokens.append(page_versions.current_token(prescribed_patient.pk))
    OrderStatusChange.objects.bulk_create(
        [OrderStatusChange(order=order, from_status="", to_status=order.status, note="x")]
    )
    tokens.append(page_versions.current_token(prescribed_patient.pk))
    assert len(set(tokens)) == 4


def test_an_update_of_rows_whose_patient_is_known_moves_the_token_without_a_query(
    prescribed_patient, django_assert_num_queries
):
    order = place_order(patient=prescribed_patient)
    before = page_versions.current_token(prescribed_patient.pk)
    with django_assert_num_queries(1):  # the UPDATE alone
        order.lines.all().update_of({prescribed_patient.pk}, quantity=2)
    assert page_versions.current_token(prescribed_patient.pk) != before
