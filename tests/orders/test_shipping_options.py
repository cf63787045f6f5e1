"""Delivery before paying: each shipping option with its price and arrival dates on the
cart and checkout, the chosen one copied onto the order and charged through Stripe, and
the courier's tracking link once the parcel leaves."""

from datetime import date
from decimal import Decimal
from urllib.parse import urlsplit

import pytest
from django.core import mail
from django.urls import reverse
from django.utils import timezone

from orders import services
from orders.cart import CartLine
from orders.delivery import add_business_days, delivery_estimate
from orders.emails import Kind, order_email
from orders.models import Order, Shipment, ShippingOption
from orders.payments.sessions import checkout_session_for
from tests.factories import make_catalog_staff, sign_in_staff
from tests.orders.factories import baclofen_package, make_address, pay

CART = "/cart/"
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
THURSDAY = date(2026, 12, 3)


@pytest.fixture
def options(standard_shipping) -> tuple[ShippingOption, ShippingOption]:
    """Standard at $4.95 in 3 to 5 business days, Express at $14.95 in 1 to 2."""
    standard_shipping.price = Decimal("4.95")
    standard_shipping.save()
    express = ShippingOption.objects.create(
        name="Express", price=Decimal("14.95"), days_min=1, days_max=2, position=1
    )
    return standard_shipping, express


def add(client, package, quantity=1):
    return client.post("/cart/add/", {"package": package.pk, "quantity": quantity})


def arrives(option: ShippingOption) -> str:
    return option.estimate(start=timezone.localdate()).label


# The estimate -----------------------------------------------------------------------


@pytest.mark.parametrize(
    "start, days, expected",
    [
        (THURSDAY, 3, date(2026, 12, 8)),  # Fri, (Sat, Sun), Mon, Tue
        (THURSDAY, 5, date(2026, 12, 10)),
        (date(2026, 12, 4), 1, date(2026, 12, 7)),  # Friday: next Monday
        (date(2026, 12, 5), 1, date(2026, 12, 7)),  # Saturday: Monday
        (date(2026, 12, 6), 3, date(2026, 12, 9)),  # Sunday: Wednesday
        (THURSDAY, 10, date(2026, 12, 17)),  # two weekends
    ],
)
def test_the_estimated_date_counts_business_days_and_skips_weekends(start, days, expected):
    assert add_business_days(start, days) == expected
    assert add_business_days(start, days).weekday() < 5


def test_the_estimate_reads_as_a_range_of_days():
    assert delivery_estimate(start=THURSDAY, days_min=3, days_max=5).label == (
        "Arrives Tue, Dec 8 – Thu, Dec 10"
    )
    assert delivery_estimate(start=THURSDAY, days_min=1, days_max=1).label == "Arrives Fri, Dec 4"


# Cart and checkout ------------------------------------------------------------------


def test_cart_shows_each_option_with_its_price_date_and_the_total(
    patient_client, package, verified, options
):
    standard, express = options
    add(patient_client, package)
    html = patient_client.get(CART).content.decode()
    assert "Delivery" in html
    assert f"<strong>Standard</strong>: $4.95. {arrives(standard)}.</span>" in html
    assert f"<strong>Express</strong>: $14.95. {arrives(express)}.</span>" in html
    assert "Order total with Standard delivery: $51.48" in html
    assert "Order total with Express delivery: $61.48" in html


def test_an_option_turned_off_is_not_offered(patient_client, package, verified, options):
    _, express = options
    ShippingOption.objects.filter(pk=express.pk).update(active=False)
    add(patient_client, package)
    for page in (CART, CHECKOUT):
        assert "Express" not in patient_client.get(page).content.decode()


def test_checkout_offers_each_option_with_price_date_and_total_the_first_chosen(
    patient_client, package, verified, options
):
    standard, express = options
    add(patient_client, package)
    html = patient_client.get(CHECKOUT).content.decode()
    assert "<legend>Delivery</legend>" in html
    assert f"Standard: $4.95. {arrives(standard)}. Order total $51.48" in html
    assert f"Express: $14.95. {arrives(express)}. Order total $61.48" in html
    assert f'value="{standard.pk}" id="id_shipping_option_0" checked' in html
    assert f'value="{express.pk}" id="id_shipping_option_1">' in html


def test_the_order_total_includes_the_chosen_delivery_and_is_what_stripe_charges(
    patient_client, patient, package, verified, options, stripe_api
):
    _, express = options
    add(patient_client, package)
    response = patient_client.post(CHECKOUT, {**ADDRESS, "shipping_option": express.pk})

    assert response.status_code == 302
    order = Order.objects.get(patient=patient)
    assert (order.shipping_name, order.shipping_price) == ("Express", Decimal("14.95"))
    assert (order.shipping_days_min, order.shipping_days_max) == (1, 2)
    assert order.total == Decimal("61.48") == package.price + express.price
    session = stripe_api.v1.checkout.sessions.retrieve(order.stripe_session_id)
    assert response["Location"] == session.url
    assert session.amount_total == order.total_cents == 6148
    assert session.total_details.amount_shipping == 1495
    assert session.shipping_cost.amount_total == 1495


def test_a_changed_price_after_placing_does_not_change_the_order(
    patient_client, patient, package, verified, options, stripe_api
):
    standard, _ = options
    add(patient_client, package)
    patient_client.post(CHECKOUT, ADDRESS)
    order = Order.objects.get(patient=patient)
    standard.price, standard.days_min, standard.days_max = Decimal("9.99"), 7, 9
    standard.save()

    order.refresh_from_db()
    assert (order.total, order.shipping_price, order.shipping_days_max) == (
        Decimal("51.48"),
        Decimal("4.95"),
        5,
    )
    html = patient_client.get(order.get_absolute_url()).content.decode()
    assert "Delivery: Standard</span><span>$4.95</span>" in html and "$9.99" not in html
    assert "Total</span><strong>$51.48</strong>" in html
    # A new session (the first expired) still charges what the order says.
    Order.objects.filter(pk=order.pk).update(stripe_session_id="")
    order.refresh_from_db()
    url = checkout_session_for(order)
    session_id = urlsplit(url).path.rsplit("/", 1)[-1]
    assert stripe_api.v1.checkout.sessions.retrieve(session_id).amount_total == 5148


def test_a_forged_post_naming_an_option_turned_off_is_refused_and_nothing_ordered(
    patient_client, patient, package, verified, options
):
    _, express = options
    ShippingOption.objects.filter(pk=express.pk).update(active=False)
    add(patient_client, package)
    stock = package.stock

    response = patient_client.post(CHECKOUT, {**ADDRESS, "shipping_option": express.pk})

    assert response.status_code == 400
    html = response.content.decode()
    assert "The delivery option you chose is no longer offered. Please choose another one." in html
    assert not Order.objects.filter(patient=patient).exists()
    package.refresh_from_db()
    assert package.stock == stock


def test_an_option_turned_off_while_checking_out_is_refused_by_checkout_itself(
    patient, package, verified, options
):
    """The form saw it offered; by the time the order is placed it is not."""
    _, express = options
    ShippingOption.objects.filter(pk=express.pk).update(active=False)
    with pytest.raises(services.CheckoutError) as error:
        services.order_check_out(
            patient=patient,
            lines=[CartLine(package, 1)],
            address_data=ADDRESS,
            shipping_option_id=express.pk,
        )
    assert [p.kind for p in error.value.problems] == ["shipping"]
    assert "no longer offered" in error.value.problems[0].message
    assert not Order.objects.filter(patient=patient).exists()


def test_with_no_option_offered_checkout_says_so_and_places_nothing(
    patient_client, patient, package, verified
):
    ShippingOption.objects.update(active=False)
    add(patient_client, package)
    assert "offers no delivery at the moment" in patient_client.get(CART).content.decode()

    response = patient_client.post(CHECKOUT, ADDRESS)

    assert response.status_code == 409
    assert "The pharmacy offers no delivery option at the moment" in response.content.decode()
    assert not Order.objects.filter(patient=patient).exists()


# After placing ------------------------------------------------------------------------


@pytest.fixture
def express_order(prescribed_patient, options, capture) -> Order:
    """Baclofen 10 mg with Express delivery, paid and dispatched by the local courier."""
    _, express = options
    order = services.order_place(
        patient=prescribed_patient,
        lines=[CartLine(baclofen_package(), 1)],
        address=make_address(prescribed_patient),
        shipping_option_id=express.pk,
    )
    return pay(order, capture)


def test_the_order_page_list_and_receipt_show_the_delivery(
    prescribed_patient, express_order, client
):
    client.force_login(prescribed_patient)
    estimate = express_order.delivery_estimate.label
    page = client.get(express_order.get_absolute_url()).content.decode()
    assert "Delivery: Express</span><span>$14.95</span>" in page
    assert "Total</span><strong>$61.48</strong>" in page
    listing = client.get(reverse("orders:list")).content.decode()
    assert '$61.48<br><span class="field-help">with Express delivery ($14.95)</span>' in listing
    receipt = order_email(express_order, Kind.CONFIRMED).body
    assert "  Delivery (Express): $14.95\n  Total: $61.48" in receipt
    assert f"Estimated delivery (Express): {estimate}." in receipt


def test_the_tracking_link_is_on_the_order_page_and_in_the_dispatch_email(
    prescribed_patient, express_order, client
):
    shipment = express_order.shipment
    track = reverse("orders:track", kwargs={"tracking_number": shipment.tracking_number})
    assert shipment.tracking_url.endswith(track)
    client.force_login(prescribed_patient)
    page = client.get(express_order.get_absolute_url()).content.decode()
    assert f'<a id="tracking-link" href="{shipment.tracking_url}"' in page
    assert "Track your parcel" in page
    dispatched = next(m for m in mail.outbox if "is on its way" in m.subject)
    assert f"Track your parcel: {shipment.tracking_url}" in dispatched.body

    # The courier's page, which needs no sign-in and names nobody.
    public = client.__class__().get(track).content.decode()
    assert shipment.tracking_number in public and "In transit" in public
    assert express_order.ship_name not in public and "Baclofen" not in public


@pytest.mark.parametrize(
    "url", ["javascript:alert(1)", "data:text/html,hi", "ftp://courier.example/x", "http:///x"]
)
def test_a_tracking_url_that_is_not_http_is_never_made_a_link(
    prescribed_patient, express_order, client, url
):
    Shipment.objects.filter(order=express_order).update(tracking_url=url)
    client.force_login(prescribed_patient)
    page = client.get(express_order.get_absolute_url()).content.decode()
    assert "tracking-link" not in page and url not in page
    express_order.refresh_from_db()
    assert url not in order_email(express_order, Kind.DISPATCHED).body


def test_an_unknown_tracking_number_is_not_found(client, db):
    assert client.get(reverse("orders:track", args=["LCNOSUCHPARCEL"])).status_code == 404
    assert client.get("/track/lc-lower/").status_code == 404


# Staff ------------------------------------------------------------------------------


def test_catalog_staff_change_an_option_in_the_admin_and_the_change_is_kept_with_its_author(
    db, client, standard_shipping
):
    staff = make_catalog_staff()
    sign_in_staff(client, staff)
    url = reverse("admin:orders_shippingoption_change", args=[standard_shipping.pk])
    data = {"name": "Standard", "price": "5.95", "days_min": 2, "days_max": 4, "position": 0}

    response = client.post(url, {**data, "active": "on"})

    assert response.status_code == 302
    standard_shipping.refresh_from_db()
    assert standard_shipping.price == Decimal("5.95")
    latest = standard_shipping.history.order_by("-history_date").first()
    assert (latest.history_user, latest.price) == (staff, Decimal("5.95"))
    refused = client.post(url, {**data, "days_min": 5, "days_max": 2, "active": "on"})
    assert "The latest day cannot come before the soonest day." in refused.content.decode()
    delete = reverse("admin:orders_shippingoption_delete", args=[standard_shipping.pk])
    assert client.post(delete, {"post": "yes"}).status_code == 403
    assert ShippingOption.objects.filter(pk=standard_shipping.pk).exists()
