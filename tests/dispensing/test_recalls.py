"""Recalls: the lot held, exactly the patients who received it told, once each."""

import pytest
from django.core import mail
from django.core.exceptions import ValidationError
from django.urls import reverse

from catalog.models import Package
from dispensing.models import DispenseRecord, Lot, Recall, RecallNotice
from dispensing.services.recalls import recall_enter
from dispensing.tasks import send_recall_notice
from tests.dispensing.factories import check_as_planned, receive_lot
from tests.orders.factories import make_patient, make_verified_prescription, pay, place_order

pytestmark = pytest.mark.django_db


def paid_order(package, capture, patient=None):
    if patient is None:
        patient = make_patient()
        make_verified_prescription(patient=patient)
    return pay(place_order(patient=patient, package=package), capture)


@pytest.fixture
def shipped_from_two_lots(package, capture, orders_any_day):
    """Lot R1 (first expiry) went to Ann (two orders) and Bo; lot R2 to Cy."""
    receive_lot(package=package, lot_number="R1", quantity=3, expires_in_days=100)
    receive_lot(package=package, lot_number="R2", quantity=10, expires_in_days=300)
    ann, bo, cy = (make_patient(first_name=name) for name in ("Ann", "Bo", "Cy"))
    for patient in (ann, bo, cy):
        make_verified_prescription(patient=patient)
    orders = {
        "ann-1": paid_order(package, capture, ann),
        "ann-2": paid_order(package, capture, ann),
        "bo": paid_order(package, capture, bo),
        "cy": paid_order(package, capture, cy),  # R1 is used up by then: R2
    }
    for order in orders.values():
        check_as_planned(order, capture=capture)
    mail.outbox.clear()
    return ann, bo, cy, orders


@pytest.fixture
def orders_any_day(settings):
    settings.REFILL_TOO_EARLY_SHARE = "0"


def test_a_recall_reaches_exactly_the_patients_who_received_the_lot_once_each(
    shipped_from_two_lots, package, pharmacist, capture
):
    ann, bo, cy, orders = shipped_from_two_lots
    assert set(
        DispenseRecord.objects.filter(lot_number="R1").values_list(
            "order_line__order__patient", flat=True
        )
    ) == {ann.pk, bo.pk}
    with capture(execute=True):
        recall = recall_enter(
            package_id=package.pk,
            lot_number="r1",
            reason="Tablets may be under strength.",
            patient_instructions="Keep taking them; we send a replacement today.",
            entered_by=pharmacist,
        )
    assert sorted(m.to[0] for m in mail.outbox) == sorted([ann.email, bo.email])
    to_ann = next(m for m in mail.outbox if m.to == [ann.email])
    assert "lot R1" in to_ann.body
    assert orders["ann-1"].number in to_ann.body and orders["ann-2"].number in to_ann.body
    assert "Keep taking them" in to_ann.body
    # Sending a notice again sends nothing.
    for notice in RecallNotice.objects.filter(recall=recall):
        assert send_recall_notice.delay(notice.pk).get() is False
    assert len(mail.outbox) == 2
    assert cy.email not in [m.to[0] for m in mail.outbox]


def test_a_recall_holds_the_unshipped_stock_of_the_lot(package, pharmacist, capture):
    start = Package.objects.get(pk=package.pk).stock
    receive_lot(package=package, lot_number="HOLD1", quantity=4, expires_in_days=100)
    receive_lot(package=package, lot_number="SAFE1", quantity=2, expires_in_days=300)
    assert Package.objects.get(pk=package.pk).stock == start + 6
    recall_enter(
        package_id=package.pk,
        lot_number="HOLD1",
        reason="Mislabelled",
        patient_instructions="Return it",
        entered_by=pharmacist,
    )
    held = Lot.objects.get(lot_number="HOLD1")
    assert held.is_held and not held.is_sellable
    assert held.quantity_on_hand == 4  # kept for the supplier, off sale
    assert Package.objects.get(pk=package.pk).stock == start + 2
    # The next order is dispensed from the other lot, never the held one.
    order = paid_order(package, capture)
    check_as_planned(order, capture=capture)
    assert DispenseRecord.objects.get(order_line__order=order).lot_number == "SAFE1"


def test_a_recall_of_a_lot_never_received_or_already_recalled_is_refused(package, pharmacist):
    kwargs = {"reason": "r", "patient_instructions": "i", "entered_by": pharmacist}
    with pytest.raises(ValidationError, match="No lot NOPE"):
        recall_enter(package_id=package.pk, lot_number="NOPE", **kwargs)
    receive_lot(package=package, lot_number="TWICE")
    recall_enter(package_id=package.pk, lot_number="TWICE", **kwargs)
    with pytest.raises(ValidationError, match="already recalled"):
        recall_enter(package_id=package.pk, lot_number="TWICE", **kwargs)
    assert Recall.objects.count() == 1


def test_staff_enter_a_recall_in_the_admin_and_see_who_received_it(
    shipped_from_two_lots, package, pharmacist_client, capture
):
    ann, bo, cy, orders = shipped_from_two_lots
    with capture(execute=True):
        response = pharmacist_client.post(
            reverse("admin:dispensing_recall_add"),
            {
                "package": package.pk,
                "lot_number": "R1",
                "reason": "Contamination",
                "patient_instructions": "Stop and call the pharmacy.",
            },
        )
    assert response.status_code == 302
    recall = Recall.objects.get()
    page = pharmacist_client.get(reverse("admin:dispensing_recall_change", args=[recall.pk]))
    html = page.content.decode()
    assert ann.email in html and bo.email in html and cy.email not in html
    assert orders["bo"].number in html
    assert len(mail.outbox) == 2
