"""A refund after the final check, before the courier: the boxes go back to their lots."""

import pytest
from django.core import mail
from django.db.models import Sum
from django.urls import reverse

from catalog.models import Package
from dispensing.models import CounsellingOffer, DispenseRecord, DispenseReturn, Lot
from dispensing.services.recalls import recall_enter
from dispensing.services.returns import order_boxes_return
from orders import services
from orders.models import OrderStatus
from tests.dispensing.factories import check_as_planned, receive_lot
from tests.orders.factories import make_patient, make_verified_prescription, pay, place_order

pytestmark = pytest.mark.django_db


def stock_of(package) -> int:
    return Package.objects.values_list("stock", flat=True).get(pk=package.pk)


def sellable_boxes(package) -> int:
    return Lot.objects.sellable().filter(package=package).aggregate(n=Sum("quantity_on_hand"))["n"]


def on_hand(lot_number: str) -> int:
    return Lot.objects.values_list("quantity_on_hand", flat=True).get(lot_number=lot_number)


@pytest.fixture
def checked_from_two_lots(package, capture):
    """Two packages ordered, checked from lot A1 (its last box) and lot B2: not shipped."""
    Package.objects.filter(pk=package.pk).update(stock=0)  # every box on sale is in a lot
    receive_lot(package=package, lot_number="A1", quantity=1, expires_in_days=100)
    receive_lot(package=package, lot_number="B2", quantity=5, expires_in_days=300)
    patient = make_patient()
    make_verified_prescription(patient=patient)
    order = pay(place_order(patient=patient, package=package, quantity=2), capture)
    check_as_planned(order)  # released; the courier's task has not run
    order.refresh_from_db()
    assert sorted(
        DispenseRecord.objects.filter(order_line__order=order).values_list("lot_number", "quantity")
    ) == [("A1", 1), ("B2", 1)]
    assert (on_hand("A1"), on_hand("B2"), stock_of(package)) == (0, 4, 4)
    return order


def test_a_refund_before_shipping_gives_each_lot_exactly_its_boxes_back(
    checked_from_two_lots, package, pharmacist
):
    order = checked_from_two_lots
    assert services.order_mark_refunded(order_id=order.pk, actor=pharmacist, note="Changed mind")
    assert (on_hand("A1"), on_hand("B2")) == (1, 5)
    assert stock_of(package) == sellable_boxes(package) == 6
    returns = DispenseReturn.objects.order_by("record__lot_number")
    assert [(r.record.lot_number, r.quantity, r.back_on_sale) for r in returns] == [
        ("A1", 1, True),
        ("B2", 1, True),
    ]
    assert {(r.reason, r.returned_by, r.note) for r in returns} == {
        (DispenseReturn.Reason.REFUNDED, pharmacist, "Changed mind")
    }


def test_refunding_twice_returns_the_boxes_once(checked_from_two_lots, package, pharmacist):
    order = checked_from_two_lots
    assert services.order_mark_refunded(order_id=order.pk, actor=pharmacist)
    assert not services.order_mark_refunded(order_id=order.pk, actor=pharmacist)
    # Even asked directly, the boxes already put back are not put back again.
    assert order_boxes_return(order=order, actor=pharmacist) == set()
    assert (on_hand("A1"), on_hand("B2"), stock_of(package)) == (1, 5, 6)
    assert DispenseReturn.objects.count() == 2


def test_boxes_of_a_recalled_lot_go_back_to_it_but_stay_off_sale(
    checked_from_two_lots, package, pharmacist
):
    order = checked_from_two_lots
    recall_enter(
        package_id=package.pk,
        lot_number="B2",
        reason="Under strength",
        patient_instructions="Keep taking it.",
        entered_by=pharmacist,
    )
    assert stock_of(package) == 0  # B2's four boxes are held
    services.order_mark_refunded(order_id=order.pk, actor=pharmacist)
    assert (on_hand("A1"), on_hand("B2")) == (1, 5)  # B2's box is with the rest of B2
    assert stock_of(package) == sellable_boxes(package) == 1
    returned = DispenseReturn.objects.get(record__lot_number="B2")
    assert returned.back_on_sale is False
    order.refresh_from_db()
    assert order.status == OrderStatus.REFUNDED
    hold = order.dispatch_holds.get()
    assert (hold.outcome, hold.closed_by) == ("refunded", pharmacist)


def test_boxes_of_a_lot_expired_since_the_check_are_kept_off_sale(
    checked_from_two_lots, package, pharmacist
):
    order = checked_from_two_lots
    Lot.objects.filter(lot_number="A1").update(expiry_date="2020-01-01")  # sweep not run yet
    services.order_mark_refunded(order_id=order.pk, actor=pharmacist)
    a1 = Lot.objects.get(lot_number="A1")
    assert a1.quantity_on_hand == 1 and a1.removed_from_sale_at is not None
    assert stock_of(package) == sellable_boxes(package) == 5


def test_a_cancel_or_refund_without_a_final_check_still_gives_the_package_its_boxes(
    package, capture, pharmacist
):
    before = stock_of(package)
    patient = make_patient()
    make_verified_prescription(patient=patient)
    order = pay(place_order(patient=patient, package=package), capture)
    assert stock_of(package) == before - 1
    services.order_mark_refunded(order_id=order.pk, actor=pharmacist)
    assert stock_of(package) == before
    assert not DispenseReturn.objects.exists()


def test_the_pharmacist_reads_the_return_on_the_dispense_record(
    checked_from_two_lots, pharmacist, pharmacist_client
):
    services.order_mark_refunded(order_id=checked_from_two_lots.pk, actor=pharmacist)
    page = pharmacist_client.get(reverse("admin:dispensing_dispensereturn_changelist"))
    html = page.content.decode()
    assert page.status_code == 200
    assert checked_from_two_lots.number in html and "Order refunded before it was shipped" in html
    record = DispenseRecord.objects.get(lot_number="A1")
    detail = pharmacist_client.get(
        reverse("admin:dispensing_dispenserecord_change", args=[record.pk])
    )
    assert "order refunded before it was shipped (on sale)" in detail.content.decode()


def test_a_later_recall_of_the_lot_does_not_write_to_the_patient_of_a_refunded_order(
    checked_from_two_lots, package, pharmacist, capture
):
    services.order_mark_refunded(order_id=checked_from_two_lots.pk, actor=pharmacist)
    mail.outbox.clear()
    with capture(execute=True):
        recall = recall_enter(
            package_id=package.pk,
            lot_number="A1",
            reason="Mislabelled",
            patient_instructions="Return it.",
            entered_by=pharmacist,
        )
    assert not recall.notices.exists() and mail.outbox == []


def test_the_next_order_after_a_refunded_first_fill_is_still_offered_counselling(
    checked_from_two_lots, package, pharmacist, capture
):
    first = checked_from_two_lots
    services.order_mark_refunded(order_id=first.pk, actor=pharmacist)
    again = pay(place_order(patient=first.patient, package=package), capture)
    check_as_planned(again)
    assert CounsellingOffer.objects.filter(order=again).exists()
