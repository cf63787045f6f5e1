"""A recall between the final check and the courier's booking holds the parcel."""

import pytest
from django.conf import settings
from django.core import mail
from django.urls import reverse

from catalog.models import Package
from dispensing.documents import label_facts
from dispensing.models import DispatchHold, DispenseRecord, DispenseReturn, FinalCheck, Lot
from dispensing.services.holds import hold_recheck
from dispensing.services.recalls import recall_enter
from orders.couriers import get_courier
from orders.models import OrderStatus, Shipment
from orders.services.shipping import order_dispatch
from orders.services.sweeps import lost_work_resume
from orders.tasks.shipping import dispatch_order
from tests.dispensing.factories import check_as_planned, receive_lot
from tests.factories import make_catalog_staff, make_user_with_verified_email

pytestmark = pytest.mark.django_db


def stock_of(package) -> int:
    return Package.objects.values_list("stock", flat=True).get(pk=package.pk)


@pytest.fixture
def checked_not_booked(to_check, package):
    """Checked from lot RC1; the courier's task has not run yet."""
    receive_lot(package=package, lot_number="RC1", quantity=3, expires_in_days=100)
    check_as_planned(to_check)  # no capture: the queued dispatch does not run
    to_check.refresh_from_db()
    assert to_check.checked_at is not None and not Shipment.objects.exists()
    return to_check


@pytest.fixture
def recalled(checked_not_booked, package, pharmacist, capture):
    with capture(execute=True):
        recall = recall_enter(
            package_id=package.pk,
            lot_number="RC1",
            reason="Tablets may be under strength.",
            patient_instructions="Keep taking them until the replacement arrives.",
            entered_by=pharmacist,
        )
    return recall


def test_a_recall_between_check_and_booking_stops_the_courier(checked_not_booked, recalled):
    order = checked_not_booked
    assert dispatch_order.delay(order.pk).get() is None
    assert not Shipment.objects.exists()
    order.refresh_from_db()
    assert order.status == OrderStatus.PAID and order.checked_at is not None
    hold = DispatchHold.objects.get(order=order)
    assert hold.is_open and hold.reason == "Recall of lot RC1: Tablets may be under strength."
    # The lost-work sweep does not keep queueing the held parcel either.
    assert lost_work_resume(now=order.checked_at.replace(year=order.checked_at.year + 1)) == 0


def test_the_patient_of_a_held_parcel_gets_the_recall_notice_once_saying_it_is_held(
    checked_not_booked, recalled
):
    order = checked_not_booked
    [email] = mail.outbox
    assert email.to == [order.patient.email]
    assert "lot RC1" in email.body
    assert f"Your order {order.number} had not left the pharmacy" in email.body
    # What to do with boxes received does not apply: none were.
    assert "Keep taking them until" not in email.body
    dispatch_order.delay(order.pk)
    # No dispatch email; the first fill's counselling offer, which the task sends, only.
    assert [m.subject for m in mail.outbox[1:]] == [
        f"Order {order.number}: a pharmacist can talk you through your new medicine - "
        f"{settings.SITE_NAME}"
    ]


def test_the_admin_shows_the_parcel_held_with_the_recall_reason(
    checked_not_booked, recalled, pharmacist_client
):
    order = checked_not_booked
    page = pharmacist_client.get(reverse("admin:orders_order_change", args=[order.pk]))
    assert "Recall of lot RC1: Tablets may be under strength." in page.content.decode()
    holds = pharmacist_client.get(reverse("admin:dispensing_dispatchhold_changelist"))
    html = holds.content.decode()
    assert order.number in html and "Held: not to be sent" in html


def test_a_pharmacist_unpacks_the_held_parcel_and_checks_it_again_with_another_lot(
    checked_not_booked, recalled, package, pharmacist, pharmacist_client, capture, pharmacy
):
    order = checked_not_booked
    receive_lot(package=package, lot_number="OK2", quantity=4, expires_in_days=300)
    before = stock_of(package)
    hold = DispatchHold.objects.get(order=order)
    response = pharmacist_client.post(
        reverse("admin:dispensing_dispatchhold_changelist"),
        {"action": "recheck_selected", "_selected_action": [hold.pk]},
        follow=True,
    )
    assert "is back in the orders to check" in response.content.decode()
    order.refresh_from_db()
    assert order.checked_at is None  # back in the "to check" queue
    assert (
        order.number
        in pharmacist_client.get(
            reverse("admin:dispensing_ordertocheck_changelist")
        ).content.decode()
    )
    # The recalled box is back in its lot, off sale; the order reserves one of OK2's.
    rc1 = Lot.objects.get(lot_number="RC1")
    assert (rc1.quantity_on_hand, rc1.is_held) == (3, True)
    assert stock_of(package) == before - 1
    assert DispenseReturn.objects.get().reason == DispenseReturn.Reason.RECHECK
    hold.refresh_from_db()
    assert hold.outcome == DispatchHold.Outcome.RECHECK and not hold.is_open

    check_as_planned(order, capture=capture)
    assert order.status == OrderStatus.DISPATCHED
    live = DispenseRecord.objects.filter(order_line__order=order, returned__isnull=True)
    assert [r.lot_number for r in live] == ["OK2"]
    assert list(order.final_checks.filter(outcome="released").values_list("round", flat=True)) == [
        2,
        1,
    ]
    assert Lot.objects.get(lot_number="OK2").quantity_on_hand == 3
    assert FinalCheck.objects.filter(order=order).count() == 2
    # The label prints the lot that went out, not the one put back.
    assert [number for number, _ in label_facts(line=order.lines.get()).lots] == ["OK2"]


def test_the_recheck_is_refused_when_no_other_lot_can_replace_the_recalled_boxes(
    checked_not_booked, recalled, package, pharmacist
):
    Package.objects.filter(pk=package.pk).update(stock=0)
    hold = DispatchHold.objects.get(order=checked_not_booked)
    with pytest.raises(Exception, match="refund the order"):
        hold_recheck(hold_id=hold.pk, pharmacist=pharmacist)
    hold.refresh_from_db()
    checked_not_booked.refresh_from_db()
    assert hold.is_open and checked_not_booked.checked_at is not None
    assert not DispenseReturn.objects.exists()


def test_only_a_pharmacist_may_unpack_a_held_parcel(checked_not_booked, recalled):
    hold = DispatchHold.objects.get(order=checked_not_booked)
    for user in (make_catalog_staff(), make_user_with_verified_email()):
        with pytest.raises(Exception, match="Only a pharmacist"):
            hold_recheck(hold_id=hold.pk, pharmacist=user)


def test_a_parcel_already_booked_is_not_held(to_check, package, pharmacist, capture):
    receive_lot(package=package, lot_number="GONE1", quantity=2)
    check_as_planned(to_check, capture=capture)
    assert to_check.status == OrderStatus.DISPATCHED
    recall_enter(
        package_id=package.pk,
        lot_number="GONE1",
        reason="r",
        patient_instructions="i",
        entered_by=pharmacist,
    )
    assert not DispatchHold.objects.exists()


def test_the_patients_order_page_says_the_parcel_is_held(checked_not_booked, recalled, client):
    client.force_login(checked_not_booked.patient)
    page = client.get(reverse("orders:detail", args=[checked_not_booked.number]))
    assert "Held: a pharmacist is replacing a recalled batch" in page.content.decode()


def test_a_recall_entered_while_the_courier_books_keeps_the_order_from_being_dispatched(
    checked_not_booked, package, pharmacist, monkeypatch
):
    """The courier was asked before the hold, the shipment is recorded after it: refused."""
    order = checked_not_booked
    courier = get_courier()
    booked = courier.create_shipment

    def book_then_recall(booked_order):
        booking = booked(booked_order)
        recall_enter(
            package_id=package.pk,
            lot_number="RC1",
            reason="Mislabelled",
            patient_instructions="Return it.",
            entered_by=pharmacist,
        )
        return booking

    monkeypatch.setattr(courier, "create_shipment", book_then_recall)
    monkeypatch.setattr("orders.services.shipping.get_courier", lambda: courier)
    assert order_dispatch(order_id=order.pk) is None
    order.refresh_from_db()
    assert order.status == OrderStatus.PAID and not Shipment.objects.exists()
