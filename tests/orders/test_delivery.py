"""Dispatch, tracking, expiry and the order emails, driven through the real services."""

import smtplib
from datetime import timedelta

import pytest
from django.conf import settings
from django.core import mail
from django.core.mail import EmailMessage
from django.utils import timezone

from catalog.models import Package
from orders import services
from orders.couriers import (
    Booking,
    CourierUnavailable,
    LocalCourier,
    TrackingInfo,
    courier_for,
    couriers,
    get_courier,
)
from orders.emails import order_email
from orders.models import Notification, Order, OrderStatus, Shipment
from orders.tasks.notifications import send_order_email
from orders.tasks.shipping import dispatch_order, refresh_shipments
from orders.tasks.sweeps import expire_unpaid_orders
from pharmacy.celery import app as celery_app
from prescriptions.models import Prescription
from tests.factories import make_pharmacist
from tests.orders.factories import (
    baclofen_package,
    make_overdue,
    make_patient,
    make_verified_prescription,
    pay_and_release,
    pay_without_side_effects,
    place_order,
)

Kind = Notification.Kind


class FlakyCourier(LocalCourier):
    """Fails the first `failures` calls of each kind, as a carrier's API does in an outage."""

    name = "Flaky courier"
    failures = 0
    calls: list[str] = []

    def create_shipment(self, order):
        self._maybe_fail("create")
        booking = super().create_shipment(order)
        return Booking(tracking_number="FC" + booking.tracking_number[2:])

    def track(self, shipment):
        self._maybe_fail("track")
        return super().track(shipment)

    def _maybe_fail(self, what):
        FlakyCourier.calls.append(what)
        if FlakyCourier.calls.count(what) <= FlakyCourier.failures:
            raise CourierUnavailable(f"{what}: 503 from the carrier")


@pytest.fixture
def flaky_courier(settings):
    settings.COURIER_BACKEND = "tests.orders.test_delivery.FlakyCourier"
    FlakyCourier.calls = []
    FlakyCourier.failures = 2
    return FlakyCourier


def subjects() -> list[str]:
    return [message.subject for message in mail.outbox]


def test_paying_then_the_final_check_dispatch_one_shipment_and_email_receipt_and_dispatch(
    prescribed_patient, capture
):
    order = place_order(patient=prescribed_patient)
    mail.outbox.clear()

    order = pay_and_release(order, capture)

    assert order.status == OrderStatus.DISPATCHED
    shipment = Shipment.objects.get(order=order)
    assert shipment.carrier == LocalCourier.name
    assert shipment.tracking_number.startswith("LC")
    assert len(shipment.tracking_number) == 14
    assert shipment.status == Shipment.Status.IN_TRANSIT
    # The receipt, the first fill's counselling offer (dispensing), the dispatch email.
    assert len(mail.outbox) == 3
    receipt, counselling, dispatched = mail.outbox
    assert receipt.subject.startswith(f"Receipt for order {order.number}")
    assert "talk you through" in counselling.subject
    assert dispatched.subject.startswith(f"Order {order.number} is on its way")
    assert shipment.tracking_number in dispatched.body
    assert all(message.to == [prescribed_patient.email] for message in mail.outbox)
    assert set(order.notifications.values_list("kind", flat=True)) == {
        Kind.CONFIRMED,
        Kind.DISPATCHED,
    }
    assert not order.notifications.filter(sent_at__isnull=True).exists()


def test_dispatch_order_run_twice_creates_one_shipment_and_one_email(prescribed_patient, capture):
    order = pay_without_side_effects(place_order(patient=prescribed_patient), capture)
    mail.outbox.clear()

    with capture(execute=True):
        first = dispatch_order.delay(order.pk).get()
        second = dispatch_order.delay(order.pk).get()

    assert first is not None
    assert second is None
    assert Shipment.objects.filter(order=order).count() == 1
    assert Order.objects.get(pk=order.pk).status == OrderStatus.DISPATCHED
    # With the counselling offer of the first fill, which the dispatch task sends too.
    assert sorted(subjects()) == [
        f"Order {order.number} is on its way - {settings.SITE_NAME}",
        f"Order {order.number}: a pharmacist can talk you through your new medicine - "
        f"{settings.SITE_NAME}",
    ]


def test_local_courier_gives_the_same_tracking_number_for_the_same_order(
    prescribed_patient, orders_any_day
):
    first, second = place_order(patient=prescribed_patient), place_order(patient=prescribed_patient)
    courier = LocalCourier()
    assert courier.create_shipment(first) == courier.create_shipment(first)
    assert courier.create_shipment(first) != courier.create_shipment(second)
    assert courier.create_shipment(first).tracking_number[2:].isalnum()


def test_get_courier_loads_the_configured_backend(settings):
    settings.COURIER_BACKEND = "orders.couriers.LocalCourier"
    assert isinstance(get_courier(), LocalCourier)


def test_dispatch_order_leaves_an_unpaid_order_alone(prescribed_patient):
    order = place_order(patient=prescribed_patient)
    assert dispatch_order.delay(order.pk).get() is None
    assert not Shipment.objects.filter(order=order).exists()
    assert Order.objects.get(pk=order.pk).status == OrderStatus.PENDING_PAYMENT


def test_refresh_shipments_delivers_only_after_the_courier_delay(paid_order, capture):
    with capture(execute=True):
        assert refresh_shipments.delay().get() == 0
    assert Order.objects.get(pk=paid_order.pk).status == OrderStatus.DISPATCHED
    assert mail.outbox == []

    # The parcel left longer ago than the local courier takes.
    Shipment.objects.filter(order=paid_order).update(
        created_at=timezone.now() - timedelta(minutes=settings.LOCAL_COURIER_DELIVERY_MINUTES + 1)
    )
    with capture(execute=True):
        assert refresh_shipments.delay().get() == 1
        assert refresh_shipments.delay().get() == 0

    order = Order.objects.get(pk=paid_order.pk)
    assert order.status == OrderStatus.DELIVERED
    assert order.shipment.status == Shipment.Status.DELIVERED
    assert order.shipment.delivered_at is not None
    assert subjects() == [f"Order {order.number} was delivered - {settings.SITE_NAME}"]


def test_local_courier_reports_in_transit_until_the_delay_has_passed(paid_order, settings):
    settings.LOCAL_COURIER_DELIVERY_MINUTES = 30
    shipment = paid_order.shipment
    shipment.created_at = timezone.now() - timedelta(minutes=29)
    assert LocalCourier().track(shipment) == TrackingInfo(status="in_transit", delivered_at=None)
    shipment.created_at = timezone.now() - timedelta(minutes=31)
    info = LocalCourier().track(shipment)
    assert info.status == "delivered"
    assert info.delivered_at == shipment.created_at + timedelta(minutes=30)


def test_refresh_shipments_asks_only_about_the_configured_couriers_parcels(paid_order, capture):
    Shipment.objects.filter(order=paid_order).update(
        carrier="Another carrier", created_at=timezone.now() - timedelta(days=2)
    )
    with capture(execute=True):
        assert refresh_shipments.delay().get() == 0
    assert Order.objects.get(pk=paid_order.pk).status == OrderStatus.DISPATCHED


def test_a_parcel_is_tracked_by_the_courier_that_booked_it_after_courier_backend_switches(
    prescribed_patient, capture, flaky_courier, settings, orders_any_day
):
    flaky_courier.failures = 0
    settings.COURIERS = ["orders.couriers.LocalCourier", "tests.orders.test_delivery.FlakyCourier"]
    booked_by_flaky = pay_and_release(place_order(patient=prescribed_patient), capture)
    settings.COURIER_BACKEND = "orders.couriers.LocalCourier"  # new parcels go with another
    booked_by_local = pay_and_release(place_order(patient=prescribed_patient), capture)
    assert booked_by_flaky.shipment.carrier == FlakyCourier.name
    assert booked_by_local.shipment.carrier == LocalCourier.name
    Shipment.objects.update(created_at=timezone.now() - timedelta(days=1))
    flaky_courier.calls = []

    with capture(execute=True):
        assert refresh_shipments.delay().get() == 2

    assert flaky_courier.calls == ["track"]  # asked about its own parcel only
    assert Order.objects.get(pk=booked_by_flaky.pk).status == OrderStatus.DELIVERED
    assert Order.objects.get(pk=booked_by_local.pk).status == OrderStatus.DELIVERED


def test_a_parcel_whose_carrier_is_not_configured_is_logged_and_skipped(
    prescribed_patient, capture, caplog, orders_any_day
):
    lost = pay_and_release(place_order(patient=prescribed_patient), capture)
    tracked = pay_and_release(place_order(patient=prescribed_patient), capture)
    Shipment.objects.update(created_at=timezone.now() - timedelta(days=1))
    Shipment.objects.filter(order=lost).update(carrier="Gone courier")

    with capture(execute=True):
        assert refresh_shipments.delay().get() == 1

    assert Order.objects.get(pk=lost.pk).status == OrderStatus.DISPATCHED
    assert Order.objects.get(pk=tracked.pk).status == OrderStatus.DELIVERED
    assert any(
        record.levelname == "ERROR" and "'Gone courier'" in record.getMessage()
        for record in caplog.records
    )


def test_the_courier_registry_knows_every_configured_backend_by_its_carrier_name(settings):
    settings.COURIER_BACKEND = "tests.orders.test_delivery.FlakyCourier"
    settings.COURIERS = ["orders.couriers.LocalCourier"]
    assert set(couriers()) == {LocalCourier.name, FlakyCourier.name}
    assert isinstance(courier_for(FlakyCourier.name), FlakyCourier)
    assert courier_for("Gone courier") is None


def test_expire_unpaid_orders_cancels_only_overdue_orders_and_gives_back_once(
    prescribed_patient, capture, orders_any_day
):
    package = baclofen_package()
    prescription = Prescription.objects.get(patient=prescribed_patient)
    overdue = make_overdue(place_order(patient=prescribed_patient))
    waiting = place_order(patient=prescribed_patient)
    paid = pay_and_release(place_order(patient=prescribed_patient), capture)
    stock_before = Package.objects.get(pk=package.pk).stock
    units_before = Prescription.objects.get(pk=prescription.pk).units_used
    mail.outbox.clear()

    with capture(execute=True):
        assert expire_unpaid_orders.delay().get() == 1
        assert expire_unpaid_orders.delay().get() == 0

    assert Order.objects.get(pk=overdue.pk).status == OrderStatus.CANCELLED
    assert Order.objects.get(pk=waiting.pk).status == OrderStatus.PENDING_PAYMENT
    assert Order.objects.get(pk=paid.pk).status == OrderStatus.DISPATCHED
    assert Package.objects.get(pk=package.pk).stock == stock_before + 1
    assert Prescription.objects.get(pk=prescription.pk).units_used == units_before - 10
    assert len(mail.outbox) == 1
    assert mail.outbox[0].subject.startswith(f"Order {overdue.number} was cancelled")
    assert "not paid in time" in mail.outbox[0].body
    assert f"10 units on prescription #{prescription.pk}" in mail.outbox[0].body


def test_send_order_email_sends_each_kind_at_most_once(paid_order):
    assert send_order_email.delay(paid_order.pk, Kind.DISPATCHED).get() is False  # already sent
    assert send_order_email.delay(paid_order.pk, Kind.REFILL).get() is True
    assert send_order_email.delay(paid_order.pk, Kind.REFILL).get() is False
    assert len(mail.outbox) == 1
    assert paid_order.notifications.get(kind=Kind.REFILL).sent_at is not None


@pytest.fixture
def eager_retries():
    """Eager tasks run their retries in-process only when errors are not propagated
    (a worker schedules them with backoff instead)."""
    previous = celery_app.conf.task_eager_propagates
    celery_app.conf.task_eager_propagates = False
    yield
    celery_app.conf.task_eager_propagates = previous


def test_dispatch_order_retries_while_the_courier_is_unavailable(
    prescribed_patient, capture, flaky_courier, eager_retries
):
    order = pay_without_side_effects(place_order(patient=prescribed_patient), capture)
    with capture(execute=True):
        tracking_number = dispatch_order.delay(order.pk).get()
    assert flaky_courier.calls == ["create", "create", "create"]
    shipment = Shipment.objects.get(order=order)
    assert (shipment.carrier, shipment.tracking_number) == ("Flaky courier", tracking_number)


def test_refresh_shipments_skips_a_parcel_the_courier_cannot_answer_about(
    prescribed_patient, capture, flaky_courier
):
    flaky_courier.failures = 0
    order = pay_and_release(place_order(patient=prescribed_patient), capture)
    Shipment.objects.filter(order=order).update(created_at=timezone.now() - timedelta(days=1))
    flaky_courier.failures = 1
    flaky_courier.calls = []
    with capture(execute=True):
        assert refresh_shipments.delay().get() == 0  # the courier failed; next run asks again
        assert refresh_shipments.delay().get() == 1
    assert Order.objects.get(pk=order.pk).status == OrderStatus.DELIVERED


def test_send_order_email_retries_when_the_mail_server_is_down(
    paid_order, monkeypatch, eager_retries
):
    real_send = EmailMessage.send
    attempts = []

    def flaky_send(message, *args, **kwargs):
        attempts.append(message.subject)
        if len(attempts) < 3:
            raise smtplib.SMTPServerDisconnected("Connection unexpectedly closed")
        return real_send(message, *args, **kwargs)

    monkeypatch.setattr(EmailMessage, "send", flaky_send)
    result = send_order_email.delay(paid_order.pk, Kind.DELIVERED)
    assert result.get() is True
    assert len(attempts) == 3
    assert len(mail.outbox) == 1
    assert paid_order.notifications.get(kind=Kind.DELIVERED).sent_at is not None


def test_send_order_email_gives_up_unsent_when_sending_keeps_failing(
    paid_order, monkeypatch, eager_retries
):
    attempts = []

    def broken_send(message, *args, **kwargs):
        attempts.append(message.subject)
        raise ConnectionRefusedError("no mail server")

    monkeypatch.setattr(EmailMessage, "send", broken_send)
    with pytest.raises(ConnectionRefusedError):
        send_order_email.delay(paid_order.pk, Kind.DELIVERED).get()
    assert len(attempts) == send_order_email.max_retries + 1
    notification = Notification.objects.filter(order=paid_order, kind=Kind.DELIVERED).first()
    assert notification is None or notification.sent_at is None


@pytest.mark.parametrize("kind", Kind.values)
def test_every_email_kind_names_the_order_links_to_it_and_warns_against_stopping(paid_order, kind):
    message = order_email(paid_order, kind)
    url = f"{settings.SITE_URL}/orders/{paid_order.number}/"
    assert paid_order.number in message.subject
    assert url in message.body
    assert settings.SITE_NAME in message.body
    assert "Important: A crucial safety point is that baclofen must never be stopped suddenly." in (
        message.body
    )
    assert "Talk to your doctor before you stop or change the dose" in message.body
    assert message.to == [paid_order.patient.email]
    assert "{{" not in message.body
    assert "&#x27;" not in message.body
    assert "&amp;" not in message.body


def test_receipt_lists_each_line_with_price_quantity_total_and_address(prescribed_patient, capture):
    order = place_order(patient=prescribed_patient, quantity=2)
    body = order_email(order, Kind.CONFIRMED).body
    package = baclofen_package()
    assert f"{order.lines.get().description}: 2 x ${package.price} = ${package.price * 2}" in body
    assert f"Total: ${order.total}" in body
    assert "12 Elm Street" in body
    assert "Springfield, NY 10001" in body


def test_dispatched_email_gives_the_carrier_and_tracking_number(paid_order):
    body = order_email(paid_order, Kind.DISPATCHED).body
    assert LocalCourier.name in body
    assert paid_order.shipment.tracking_number in body


def test_cancelled_email_says_the_patient_cancelled(prescribed_patient, capture):
    order = place_order(patient=prescribed_patient)
    mail.outbox.clear()
    with capture(execute=True):
        services.order_cancel(order_id=order.pk, actor=prescribed_patient)
    assert len(mail.outbox) == 1
    body = mail.outbox[0].body
    assert f"As you asked, we cancelled order {order.number}" in body
    assert "You were not charged" in body
    assert "went back on our shelf" in body


def test_refunded_email_gives_the_amount_and_when_to_expect_it(prescribed_patient, capture):
    order = pay_without_side_effects(place_order(patient=prescribed_patient), capture)
    prescription = Prescription.objects.get(patient=prescribed_patient)
    units_before = prescription.units_used
    mail.outbox.clear()
    with capture(execute=True):
        services.order_mark_refunded(order_id=order.pk)
    assert len(mail.outbox) == 1
    body = mail.outbox[0].body
    assert mail.outbox[0].subject.startswith(f"Order {order.number} was refunded")
    assert f"We refunded ${order.total} for order {order.number}" in body
    assert "within 5 to 10 business days" in body
    assert Prescription.objects.get(pk=prescription.pk).units_used == units_before - 10


def test_a_dispatch_lost_with_the_broker_is_resumed_by_the_sweep(baclofen):
    from orders.tasks.sweeps import resume_lost_work

    patient = make_patient()
    make_verified_prescription(patient=patient)
    order = place_order(patient=patient)
    # Paid a while ago and not checked yet: the sweep leaves it to the pharmacist.
    Order.objects.filter(pk=order.pk).update(
        status=OrderStatus.PAID, paid_at=timezone.now() - timedelta(minutes=10)
    )
    assert resume_lost_work.apply().get() == 0
    order.refresh_from_db()
    assert order.awaits_final_check
    # Checked a while ago, but its dispatch task never ran (the broker was down).
    Order.objects.filter(pk=order.pk).update(
        checked_at=timezone.now() - timedelta(minutes=5), checked_by=make_pharmacist()
    )
    assert resume_lost_work.apply().get() >= 1
    order.refresh_from_db()
    assert order.status == OrderStatus.DISPATCHED
    assert resume_lost_work.apply().get() == 0
