"""The final check: the only way a paid order reaches the courier, and its refusals."""

import pytest
from django.conf import settings
from django.core import mail
from django.core.exceptions import PermissionDenied, ValidationError
from django.urls import reverse

from dispensing.models import DispenseRecord, FinalCheck, Lot
from dispensing.services.final_check import LotConfirmation, order_final_check
from orders.models import OrderStatus, Shipment
from orders.services import order_release_for_dispatch
from orders.tasks.shipping import dispatch_order
from tests.dispensing.factories import check_as_planned, confirmations_as_planned, receive_lot
from tests.factories import make_catalog_staff

pytestmark = pytest.mark.django_db


def test_a_paid_order_waits_for_the_pharmacist_and_is_not_dispatched(to_check):
    assert to_check.status == OrderStatus.PAID
    assert to_check.awaits_final_check
    assert not Shipment.objects.filter(order=to_check).exists()
    # The dispatch task itself refuses an order nobody checked.
    assert dispatch_order.delay(to_check.pk).get() is None
    assert not Shipment.objects.filter(order=to_check).exists()


def test_the_check_dispenses_from_the_lot_records_it_and_dispatches(
    to_check, package, pharmacist, capture
):
    lot = receive_lot(package=package, quantity=5, lot_number="BX100")
    check = check_as_planned(to_check, pharmacist=pharmacist, capture=capture)
    assert check.outcome == FinalCheck.Outcome.RELEASED
    to_check.refresh_from_db()
    assert to_check.status == OrderStatus.DISPATCHED
    assert to_check.checked_by == pharmacist
    record = DispenseRecord.objects.get()
    assert (record.lot, record.lot_number, record.expiry_date) == (lot, "BX100", lot.expiry_date)
    assert (record.quantity, record.units, record.pharmacist) == (1, 10, pharmacist)
    assert record.order_line == to_check.lines.get()
    lot.refresh_from_db()
    assert lot.quantity_on_hand == 4
    # The dispatch email, and the counselling offer of this first fill.
    assert sorted(m.subject for m in mail.outbox) == [
        f"Order {to_check.number} is on its way - {settings.SITE_NAME}",
        f"Order {to_check.number}: a pharmacist can talk you through your new medicine - "
        f"{settings.SITE_NAME}",
    ]


def test_fefo_picks_the_first_expiry_that_lasts_the_supply(to_check, package, capture):
    receive_lot(package=package, lot_number="LATE", expires_in_days=400)
    receive_lot(package=package, lot_number="EARLY", expires_in_days=200)
    # Four days of supply: a lot expiring in two days would expire while in use.
    receive_lot(package=package, lot_number="TOOSOON", expires_in_days=2)
    check_as_planned(to_check, capture=capture)
    assert DispenseRecord.objects.get().lot_number == "EARLY"


def test_a_line_is_dispensed_from_two_lots_when_the_first_runs_short(package, capture):
    from tests.orders.factories import make_patient, make_verified_prescription, pay, place_order

    patient = make_patient()
    make_verified_prescription(patient=patient)
    order = pay(place_order(patient=patient, package=package, quantity=3), capture)
    receive_lot(package=package, quantity=1, lot_number="FIRST", expires_in_days=100)
    receive_lot(package=package, quantity=9, lot_number="SECOND", expires_in_days=300)
    check_as_planned(order, capture=capture)
    assert sorted(DispenseRecord.objects.values_list("lot_number", "quantity")) == [
        ("FIRST", 1),
        ("SECOND", 2),
    ]


def test_an_expired_lot_is_never_dispensed_even_before_the_sweep(to_check, package, pharmacist):
    lot = receive_lot(package=package, lot_number="OLD", expires_in_days=30)
    Lot.objects.filter(pk=lot.pk).update(expiry_date=lot.expiry_date.replace(year=2020))
    with pytest.raises(ValidationError, match="no lots on hand"):
        check_as_planned(to_check, pharmacist=pharmacist)
    assert FinalCheck.objects.get().outcome == FinalCheck.Outcome.REFUSED


def refuse(order, pharmacist, *, drug=True, **change) -> ValidationError:
    lines, lots = confirmations_as_planned(order)
    lots = [LotConfirmation(**{**lot.__dict__, **change}) for lot in lots]
    with pytest.raises(ValidationError) as refused:
        order_final_check(
            order_id=order.pk,
            pharmacist=pharmacist,
            drug_confirmed_lines=lines if drug else set(),
            lots=lots,
        )
    return refused.value


@pytest.mark.parametrize(
    ("change", "reason"),
    [
        ({"lot_number": "WRONG1"}, "lot WRONG1 is not the lot to dispense"),
        ({"quantity": 2}, "2 package(s) of lot BX7 counted; 1 to dispense"),
        ({"expiry_date": None}, "is not the lot's recorded expiry"),
    ],
)
def test_a_mismatch_refuses_the_check_says_why_and_is_recorded(
    to_check, package, pharmacist, change, reason
):
    lot = receive_lot(package=package, quantity=5, lot_number="BX7")
    error = refuse(to_check, pharmacist, **change)
    assert any(reason in message for message in error.messages), error.messages
    to_check.refresh_from_db()
    assert to_check.awaits_final_check
    assert not DispenseRecord.objects.exists()
    lot.refresh_from_db()
    assert lot.quantity_on_hand == 5
    refusal = FinalCheck.objects.get()
    assert (refusal.outcome, refusal.pharmacist) == (FinalCheck.Outcome.REFUSED, pharmacist)
    assert reason in refusal.reason


def test_the_drug_and_strength_must_be_confirmed(to_check, package, pharmacist):
    receive_lot(package=package)
    error = refuse(to_check, pharmacist, drug=False)
    assert "confirm that the drug and strength" in error.messages[0]


def test_a_lot_in_the_wrong_spelling_still_matches(to_check, package, pharmacist, capture):
    receive_lot(package=package, lot_number="AB 12")
    lines, lots = confirmations_as_planned(to_check)
    typed = [LotConfirmation(lot.line_id, "ab12", lot.expiry_date, lot.quantity) for lot in lots]
    with capture(execute=True):
        order_final_check(
            order_id=to_check.pk, pharmacist=pharmacist, drug_confirmed_lines=lines, lots=typed
        )
    to_check.refresh_from_db()
    assert to_check.status == OrderStatus.DISPATCHED


def test_no_lot_on_hand_refuses_the_check(to_check, pharmacist):
    with pytest.raises(ValidationError, match="Receive a lot, or refund the order"):
        order_final_check(
            order_id=to_check.pk, pharmacist=pharmacist, drug_confirmed_lines=set(), lots=[]
        )


def test_an_order_is_checked_once(to_check, package, pharmacist, capture):
    receive_lot(package=package)
    check_as_planned(to_check, pharmacist=pharmacist, capture=capture)
    with pytest.raises(ValidationError, match="not waiting for its final check"):
        check_as_planned(to_check, pharmacist=pharmacist)
    with pytest.raises(ValidationError):
        order_release_for_dispatch(order_id=to_check.pk, pharmacist=pharmacist)
    assert DispenseRecord.objects.count() == 1


def test_only_a_pharmacist_may_check(to_check, package):
    receive_lot(package=package)
    with pytest.raises(PermissionDenied):
        check_as_planned(to_check, pharmacist=make_catalog_staff())
    to_check.refresh_from_db()
    assert to_check.awaits_final_check


def test_dispense_records_cannot_be_changed_or_deleted(to_check, package, capture):
    receive_lot(package=package)
    check_as_planned(to_check, capture=capture)
    record = DispenseRecord.objects.get()
    with pytest.raises(PermissionDenied):
        DispenseRecord.objects.update(quantity=9)
    with pytest.raises(PermissionDenied):
        record.delete()
    record.quantity = 9
    with pytest.raises(PermissionDenied):
        record.save()


def test_the_queue_lists_orders_to_check_and_the_pharmacist_checks_in_the_admin(
    to_check, package, pharmacist_client, capture
):
    receive_lot(package=package, lot_number="Q1", quantity=3)
    queue = pharmacist_client.get(reverse("admin:dispensing_ordertocheck_changelist"))
    assert to_check.number in queue.content.decode()
    url = reverse("admin:dispensing_ordertocheck_change", args=[to_check.pk])
    page = pharmacist_client.get(url).content.decode()
    assert "Q1" in page
    assert "Take 1 tablet three times a day" in page
    line = to_check.lines.get()
    lot = Lot.objects.get(lot_number="Q1")
    wrong = pharmacist_client.post(
        url,
        {
            f"drug-{line.pk}": "on",
            f"lot-{line.pk}-0": "Q2",
            f"expiry-{line.pk}-0": lot.expiry_date.isoformat(),
            f"qty-{line.pk}-0": "1",
        },
    )
    assert "lot Q2 is not the lot to dispense" in wrong.content.decode()
    with capture(execute=True):
        right = pharmacist_client.post(
            url,
            {
                f"drug-{line.pk}": "on",
                f"lot-{line.pk}-0": "Q1",
                f"expiry-{line.pk}-0": lot.expiry_date.isoformat(),
                f"qty-{line.pk}-0": "1",
            },
        )
    assert right.status_code == 302
    to_check.refresh_from_db()
    assert to_check.status == OrderStatus.DISPATCHED
    queue = pharmacist_client.get(reverse("admin:dispensing_ordertocheck_changelist"))
    assert f"Order {to_check.number} checked and released" in queue.content.decode()
    queue = pharmacist_client.get(reverse("admin:dispensing_ordertocheck_changelist"))
    assert to_check.number not in queue.content.decode()
