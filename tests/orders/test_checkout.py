"""Cart and checkout: prescriptions cover every line, prices come from the database,
stock and units are taken in one transaction, or nothing happens."""

import pytest
from django.test import Client
from django.urls import reverse

from catalog.models import Package
from orders import services
from orders.cart import CartLine
from orders.models import REFUND_BUSINESS_DAYS, DeliveryAddress, Order, OrderStatus, Shipment
from prescriptions.models import Prescription
from tests.factories import make_user_with_verified_email

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


def add(client, package, quantity=1):
    return client.post("/cart/add/", {"package": package.pk, "quantity": quantity})


def test_anonymous_visitor_fills_a_cart_that_survives_signing_in(client, package, patient):
    assert add(client, package, 2).status_code == 302
    html = client.get(CART).content.decode()
    assert "Baclofen" in html and "$93.06" in html
    assert client.get(CHECKOUT)["Location"].startswith("/accounts/login/")
    client.post("/accounts/login/", {"login": patient.email, "password": "a-long-test-password-1"})
    assert 'value="2"' in client.get(CART).content.decode()


def test_cart_quantities_change_and_lines_go(patient_client, package):
    add(patient_client, package)
    patient_client.post("/cart/update/", {"package": package.pk, "quantity": 3})
    assert 'value="3"' in patient_client.get(CART).content.decode()
    patient_client.post("/cart/update/", {"package": package.pk, "quantity": 0})
    assert "Your cart is empty" in patient_client.get(CART).content.decode()


@pytest.mark.parametrize("data", [{"package": 999999, "quantity": 1}, {"quantity": 1}])
def test_adding_an_unknown_package_says_so(patient_client, package, data):
    response = patient_client.post("/cart/add/", data, follow=True)
    assert "not available" in response.content.decode() or "required" in response.content.decode()
    assert "Your cart is empty" in response.content.decode()


def test_cart_shows_whether_a_prescription_covers_each_line(patient_client, package, verified):
    add(patient_client, package)
    html = patient_client.get(CART).content.decode()
    assert "Covered" in html
    assert "Your prescription covers 180 more tablets; this needs 10." in html


def test_checkout_without_a_prescription_explains_and_links_to_upload(patient_client, package):
    add(patient_client, package)
    response = patient_client.post(CHECKOUT, ADDRESS)
    assert response.status_code == 409
    html = response.content.decode()
    assert "no verified prescription of yours covers it" in html
    assert "/account/prescriptions/new/?drug=baclofen" in html
    assert not Order.objects.exists()
    package.refresh_from_db()
    assert package.stock == 100


@pytest.mark.parametrize(
    ("field", "value", "message"),
    [
        ("zip_code", "1234", "ZIP code like 10001"),
        ("state", "XX", "Select a valid choice"),
        ("line1", "", "This field is required"),
    ],
)
def test_a_bad_address_is_refused_and_nothing_ordered(
    patient_client, package, verified, field, value, message
):
    add(patient_client, package)
    response = patient_client.post(CHECKOUT, {**ADDRESS, field: value})
    assert response.status_code == 400
    assert message in response.content.decode()
    assert not Order.objects.exists()


def test_placing_an_order_takes_stock_and_units_at_database_prices(patient, package, verified):
    address = DeliveryAddress.objects.create(user=patient, **ADDRESS)
    line = CartLine(package, 2)
    package.price = "0.01"  # a tampered in-memory price is never charged
    order = services.order_place(patient=patient, lines=[line], address=address)
    assert order.status == OrderStatus.PENDING_PAYMENT
    stored = order.lines.get()
    assert str(stored.package_price) == "46.53"
    assert str(order.total) == "93.06"
    package.refresh_from_db()
    assert package.stock == 98
    verified.refresh_from_db()
    assert verified.units_used == 20
    assert stored.monograph_version == package.formulation.drug.monograph_version


def test_asking_for_more_units_than_the_prescription_left_is_refused(patient, package, verified):
    address = DeliveryAddress.objects.create(user=patient, **ADDRESS)
    with pytest.raises(services.CheckoutError) as excinfo:
        services.order_place(patient=patient, lines=[CartLine(package, 19)], address=address)
    assert excinfo.value.problems[0].kind == "not_enough_units"
    verified.refresh_from_db()
    package.refresh_from_db()
    assert (verified.units_used, package.stock) == (0, 100)


def test_out_of_stock_refuses_the_whole_order_and_keeps_the_units(patient, package, verified):
    Package.objects.filter(pk=package.pk).update(stock=1)
    address = DeliveryAddress.objects.create(user=patient, **ADDRESS)
    with pytest.raises(services.CheckoutError) as excinfo:
        services.order_place(patient=patient, lines=[CartLine(package, 2)], address=address)
    assert [p.kind for p in excinfo.value.problems] == ["out_of_stock"]
    assert Prescription.objects.get(pk=verified.pk).units_used == 0
    assert Package.objects.get(pk=package.pk).stock == 1
    assert not Order.objects.exists()


def test_cancelling_gives_stock_and_units_back_once(patient, package, verified):
    address = DeliveryAddress.objects.create(user=patient, **ADDRESS)
    order = services.order_place(patient=patient, lines=[CartLine(package, 3)], address=address)
    assert services.order_cancel(order_id=order.pk, actor=patient)
    assert not services.order_cancel(order_id=order.pk, actor=patient)
    package.refresh_from_db()
    verified.refresh_from_db()
    assert (package.stock, verified.units_used) == (100, 0)
    assert [c.to_status for c in order.status_changes.all()] == ["pending_payment", "cancelled"]


def test_the_drug_page_follows_the_last_box_out_and_back_but_is_not_rebuilt_for_each_order(
    client,
    patient,
    package,
    verified,
    django_capture_on_commit_callbacks,
    django_assert_num_queries,
    orders_any_day,
):
    Package.objects.filter(pk=package.pk).update(stock=2)
    address = DeliveryAddress.objects.create(user=patient, **ADDRESS)
    url = package.formulation.drug.get_absolute_url()
    packs = Package.objects.purchasable().filter(formulation__drug=package.formulation.drug)
    in_stock = packs.count()
    assert client.get(url).content.decode().count("In stock") == in_stock

    def place() -> Order:
        with django_capture_on_commit_callbacks(execute=True):
            return services.order_place(
                patient=patient, lines=[CartLine(package, 1)], address=address
            )

    place()  # one box left: the page does not change, so the cached copy is kept
    with django_assert_num_queries(0):
        assert client.get(url).content.decode().count("In stock") == in_stock
    last = place()
    html = client.get(url).content.decode()
    assert html.count("In stock") == in_stock - 1 and "Out of stock" in html
    with django_capture_on_commit_callbacks(execute=True):
        services.order_cancel(order_id=last.pk, actor=patient)
    assert client.get(url).content.decode().count("In stock") == in_stock


def test_another_patients_order_is_not_found(patient, package, verified):
    address = DeliveryAddress.objects.create(user=patient, **ADDRESS)
    order = services.order_place(patient=patient, lines=[CartLine(package, 1)], address=address)
    other = Client()
    other.force_login(make_user_with_verified_email(email="other@example.com"))
    assert other.get(order.get_absolute_url()).status_code == 404
    assert other.post(reverse("orders:cancel", args=[order.number])).status_code == 404
    assert Order.objects.get(pk=order.pk).status == OrderStatus.PENDING_PAYMENT


def test_patient_sees_order_history_and_cancels_an_unpaid_order(
    patient_client, patient, package, verified
):
    address = DeliveryAddress.objects.create(user=patient, **ADDRESS)
    order = services.order_place(patient=patient, lines=[CartLine(package, 1)], address=address)
    assert order.number in patient_client.get("/orders/").content.decode()
    page = patient_client.get(order.get_absolute_url()).content.decode()
    assert "Pay now ($46.53)" in page and "Cancel order" in page
    patient_client.post(reverse("orders:cancel", args=[order.number]))
    assert Order.objects.get(pk=order.pk).status == OrderStatus.CANCELLED


ORDER_PAGE_NOTICES = {
    OrderStatus.PAID: "Payment received. We are preparing your parcel",
    OrderStatus.DISPATCHED: "On its way with Local courier.",
    OrderStatus.DELIVERED: "Delivered with Local courier.",
    OrderStatus.CANCELLED: "This order was cancelled and nothing was charged.",
    OrderStatus.REFUNDED: f"goes back to your card within {REFUND_BUSINESS_DAYS} business days.",
}


@pytest.mark.parametrize("status", list(ORDER_PAGE_NOTICES))
def test_the_order_page_tells_the_patient_what_each_status_means(
    patient_client, patient, package, verified, status
):
    address = DeliveryAddress.objects.create(user=patient, **ADDRESS)
    order = services.order_place(patient=patient, lines=[CartLine(package, 1)], address=address)
    Order.objects.filter(pk=order.pk).update(status=status)
    if status in (OrderStatus.DISPATCHED, OrderStatus.DELIVERED):
        Shipment.objects.create(order=order, carrier="Local courier", tracking_number="LC1")

    page = patient_client.get(order.get_absolute_url()).content.decode()

    assert ORDER_PAGE_NOTICES[status] in page
    others = [notice for other, notice in ORDER_PAGE_NOTICES.items() if other != status]
    assert not any(notice in page for notice in others)
    assert "Pay now" not in page


def test_empty_order_history_says_so(patient_client):
    assert "You have not ordered anything yet." in patient_client.get("/orders/").content.decode()


def test_add_to_cart_is_csrf_checked_for_every_visitor_with_a_session(baclofen, package):
    import re

    client = Client(enforce_csrf_checks=True)
    html = client.get(baclofen.get_absolute_url()).content.decode()
    assert "@@personal:csrf@@" not in html
    assert "csrftoken" not in client.cookies  # the cached page is the same for everyone
    # Without a session the browser's word that the form is this site's own is enough:
    # the first add starts the visitor's session.
    first = client.post(
        "/cart/add/", {"package": package.pk, "quantity": 1}, HTTP_SEC_FETCH_SITE="same-origin"
    )
    assert first.status_code == 302
    assert "sessionid" in client.cookies
    # From then on the page carries this visitor's token, and the cart needs it.
    html = client.get(baclofen.get_absolute_url()).content.decode()
    token = re.search(r'name="csrfmiddlewaretoken" value="([^"]+)"', html).group(1)
    assert client.post("/cart/add/", {"package": package.pk, "quantity": 1}).status_code == 403
    response = client.post(
        "/cart/add/", {"package": package.pk, "quantity": 1, "csrfmiddlewaretoken": token}
    )
    assert response.status_code == 302
    assert 'value="2"' in client.get("/cart/").content.decode()


def test_cart_page_query_count(
    patient_client, package, verified, settings, django_assert_max_num_queries
):
    # What a render costs; a repeat view is the process's copy (tests/orders/test_page_copy.py).
    settings.USER_PAGE_COPY_SECONDS = 0
    add(patient_client, package)
    patient_client.get(CART)  # the delivery options are now this process's copy
    # session (none when Redis holds it), user, packages, prescriptions (what covers the
    # lines and what is held, together), profile
    with django_assert_max_num_queries(5):
        assert patient_client.get(CART).status_code == 200


def test_order_page_query_count(
    patient_client, patient, package, verified, settings, django_assert_max_num_queries
):
    # What a render costs; a repeat view is the process's copy (tests/orders/test_page_copy.py).
    settings.USER_PAGE_COPY_SECONDS = 0
    address = DeliveryAddress.objects.create(user=patient, **ADDRESS)
    order = services.order_place(patient=patient, lines=[CartLine(package, 1)], address=address)
    patient_client.get(order.get_absolute_url())  # the user is now copied in the cache
    # session and user (none when Redis holds them), the order with its shipment, its
    # lines with their prescriptions, its status changes
    with django_assert_max_num_queries(5):
        assert order.number in patient_client.get(order.get_absolute_url()).content.decode()


def test_a_cart_of_several_medicines_costs_no_more_queries_than_one(
    patient_client, package, verified, django_assert_max_num_queries
):
    other = (
        Package.objects.purchasable()
        .exclude(formulation=package.formulation)
        .filter(formulation__drug=package.formulation.drug)
        .first()
    )
    add(patient_client, package)
    add(patient_client, other)
    with django_assert_max_num_queries(6):
        html = patient_client.get(CART).content.decode()
    assert package.label in html and other.label in html


def test_a_checkout_submitted_again_leads_to_the_same_order(
    patient_client, patient, package, verified, settings
):
    """The answer to the first submit was lost (an outage after the commit): the
    patient submits the same cart again and must not end with two orders."""
    settings.STRIPE_API_BASE = "http://127.0.0.1:9"  # payment cannot start: back to the order
    settings.STRIPE_MAX_NETWORK_RETRIES = 0
    add(patient_client, package)
    address = DeliveryAddress.objects.create(user=patient, **ADDRESS)
    first = services.order_place(patient=patient, lines=[CartLine(package, 1)], address=address)
    response = patient_client.post(CHECKOUT, ADDRESS)
    assert response.status_code == 302
    assert Order.objects.filter(patient=patient).count() == 1
    package.refresh_from_db()
    assert package.stock == 99
    assert "Your cart is empty" in patient_client.get(CART).content.decode()
    assert response["Location"] == first.get_absolute_url()


def test_checkout_post_query_count(
    settings, patient, package, verified, stripe_api, django_assert_num_queries
):
    # What placing an order costs: the profile, the prescription and the patient's row
    # are read once in the transaction and passed down, inner blocks take no savepoint,
    # the stock is one conditional UPDATE that returns what it left. Sessions and the
    # user as production keeps them (in the cache), whatever cache this run has.
    settings.SESSION_ENGINE = "accounts.sessions"
    settings.USER_CACHE_SECONDS = 60
    patient_client = Client()
    patient_client.force_login(patient)
    DeliveryAddress.objects.create(user=patient, **ADDRESS)
    add(patient_client, package)
    patient_client.get(CHECKOUT)  # the delivery options are now this process's copy
    with django_assert_num_queries(QUERIES_PLACING_AN_ORDER):
        response = patient_client.post(CHECKOUT, ADDRESS)
    assert response.status_code == 302
    assert Order.objects.get(patient=patient).status == OrderStatus.PENDING_PAYMENT


QUERIES_PLACING_AN_ORDER = 46
