"""The delivery options a cart lists come from the process's copy (orders/shipping_copy.py):
no query for them on a busy cart, and still what staff set, at once in the process that
saved it and within SHIPPING_OPTIONS_RECHECK_SECONDS in every other."""

from decimal import Decimal

from django.core.cache import cache

from orders.models import ShippingOption
from orders.shipping_copy import VERSION_KEY

CART = "/cart/"


def add(client, package):
    return client.post("/cart/add/", {"package": package.pk, "quantity": 1})


def test_a_busy_cart_lists_the_delivery_options_without_a_query(
    patient_client, package, verified, settings, django_assert_max_num_queries
):
    settings.SHIPPING_OPTIONS_RECHECK_SECONDS = 3600
    add(patient_client, package)
    patient_client.get(CART)
    # session and user (none once copied), packages, prescriptions, profile
    with django_assert_max_num_queries(5) as queries:
        html = patient_client.get(CART).content.decode()
    assert "Standard" in html
    assert not any("orders_shippingoption" in q["sql"] for q in queries.captured_queries)


def test_an_option_staff_add_shows_on_the_next_cart_of_the_same_process(
    patient_client, package, verified, settings, django_capture_on_commit_callbacks
):
    settings.SHIPPING_OPTIONS_RECHECK_SECONDS = 3600
    add(patient_client, package)
    assert "Express" not in patient_client.get(CART).content.decode()
    with django_capture_on_commit_callbacks(execute=True):
        ShippingOption.objects.create(
            name="Express", price=Decimal("14.95"), days_min=1, days_max=2, position=1
        )
    assert "Express" in patient_client.get(CART).content.decode()


def test_an_option_turned_off_elsewhere_goes_once_the_process_rechecks(
    patient_client, package, verified, settings, standard_shipping
):
    express = ShippingOption.objects.create(
        name="Express", price=Decimal("14.95"), days_min=1, days_max=2, position=1
    )
    settings.SHIPPING_OPTIONS_RECHECK_SECONDS = 3600
    add(patient_client, package)
    assert "Express" in patient_client.get(CART).content.decode()
    # Another process turns it off: its signal moves the shared key, not this copy.
    ShippingOption.objects.filter(pk=express.pk).update(active=False)
    cache.set(VERSION_KEY, "moved by another process", None)
    assert "Express" in patient_client.get(CART).content.decode()  # not checked yet
    settings.SHIPPING_OPTIONS_RECHECK_SECONDS = 0.000001  # the time to check has come
    assert "Express" not in patient_client.get(CART).content.decode()


def test_without_the_setting_every_cart_reads_the_options(
    patient_client, package, verified, settings
):
    settings.SHIPPING_OPTIONS_RECHECK_SECONDS = 0
    add(patient_client, package)
    patient_client.get(CART)
    ShippingOption.objects.create(
        name="Express", price=Decimal("14.95"), days_min=1, days_max=2, position=1
    )
    assert "Express" in patient_client.get(CART).content.decode()
