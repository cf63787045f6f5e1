"""Early refills through orders waiting for a pharmacist: charged one after the other.

Checkout cannot count an order still waiting for verification (it is not charged yet,
and an upload's directions are not known), so settling runs checkout's early-refill
rule again once the prescription is verified, counting the orders settled before;
and checkout refuses another order of a drug while one of it is still waiting.
"""

import threading
import time

import pytest
from django.core import mail
from django.db import connection, connections, transaction

from orders.models import OrderStatus, OrderStatusChange
from orders.payments.settlement import order_settle
from orders.services import CheckoutError
from prescriptions.models import Prescription
from prescriptions.services import (
    prescription_allow_early_refill,
    prescription_reject,
    prescription_verify,
)
from tests.factories import make_e_prescription, make_pharmacist
from tests.fixtures.stripe import pay_at_standin
from tests.orders.factories import (
    captures_of,
    decide,
    intent_of,
    make_verified_prescription,
    place_order,
    place_waiting,
    receive,
    stock,
    units_used,
)

pytestmark = pytest.mark.urls("tests.orders.urls_webhook")


@pytest.fixture
def two_authorised(waiting_rx, stripe_api, capture, settings):
    """Two orders of one package each, both waiting on the same prescription with their
    cards authorised: placed while the patient's earlier waiting order was not yet
    counted (an upload's directions are unknown; here the refill check is off while
    placing, then back to its default)."""
    patient, prescription = waiting_rx
    share = settings.REFILL_TOO_EARLY_SHARE
    settings.REFILL_TOO_EARLY_SHARE = "0"
    orders = [place_waiting(patient, prescription), place_waiting(patient, prescription)]
    for order in orders:
        with capture(execute=True):
            assert receive(pay_at_standin(stripe_api, order)) == (
                "authorised: waiting for the pharmacist"
            )
        order.refresh_from_db()
    settings.REFILL_TOO_EARLY_SHARE = share
    mail.outbox.clear()
    return orders, prescription


def test_verifying_charges_the_first_waiting_order_and_cancels_the_early_second(
    two_authorised, stripe_api, capture
):
    (first, second), prescription = two_authorised
    before = stock()

    decide(capture, prescription_verify, prescription, warnings_acknowledged=True)

    first.refresh_from_db()
    second.refresh_from_db()
    assert first.awaits_final_check  # charged, waiting for the pharmacist's final check
    assert second.status == OrderStatus.CANCELLED
    assert captures_of(stripe_api, first.stripe_payment_intent) == 1
    assert captures_of(stripe_api, second.stripe_payment_intent) == 0
    assert intent_of(stripe_api, second).status == "canceled"
    assert units_used(prescription) == 10  # the first order's units only
    assert stock() == before + 1  # the second order's package is back
    note = OrderStatusChange.objects.get(order=second, to_status=OrderStatus.CANCELLED).note
    assert note.startswith("your earlier orders of Baclofen 10 mg")
    assert "a pharmacist can allow an early refill" in note
    [email] = [m for m in mail.outbox if second.number in m.subject and "cancel" in m.subject]
    assert "a pharmacist can allow an early refill" in email.body
    assert "Nothing was charged" in email.body
    assert order_settle(order_id=second.pk) == "order already cancelled"


def test_an_early_refill_the_pharmacist_allowed_is_charged_and_uses_the_allowance(
    two_authorised, stripe_api, capture
):
    (first, second), prescription = two_authorised
    pharmacist = make_pharmacist()
    with capture():  # verified, its settling tasks not yet run
        prescription_verify(
            prescription_id=prescription.pk, pharmacist=pharmacist, warnings_acknowledged=True
        )
    prescription_allow_early_refill(
        prescription_id=prescription.pk, pharmacist=pharmacist, reason="Travelling abroad"
    )

    with capture(execute=True):
        assert order_settle(order_id=first.pk) == "captured: paid"
        assert order_settle(order_id=second.pk) == "captured: paid"

    assert captures_of(stripe_api, second.stripe_payment_intent) == 1
    assert Prescription.objects.get(pk=prescription.pk).early_refill_allowed is False
    assert units_used(prescription) == 20


def test_the_pharmacist_can_allow_the_early_refill_before_verifying(
    two_authorised, stripe_api, capture
):
    (first, second), prescription = two_authorised
    pharmacist = make_pharmacist()
    prescription_allow_early_refill(  # still submitted: the orders wait for the verification
        prescription_id=prescription.pk, pharmacist=pharmacist, reason="Dose increase coming"
    )

    decide(capture, prescription_verify, prescription, warnings_acknowledged=True)

    first.refresh_from_db()
    second.refresh_from_db()
    assert (first.status, second.status) == (OrderStatus.PAID, OrderStatus.PAID)
    assert captures_of(stripe_api, second.stripe_payment_intent) == 1
    assert Prescription.objects.get(pk=prescription.pk).early_refill_allowed is False


def test_a_rejected_prescription_cannot_be_allowed_an_early_refill(waiting_rx, capture):
    from django.core.exceptions import ValidationError

    _, prescription = waiting_rx
    decide(capture, prescription_reject, prescription, reason="Unsigned.")
    with pytest.raises(ValidationError, match="rejected prescription cannot be allowed"):
        prescription_allow_early_refill(
            prescription_id=prescription.pk, pharmacist=make_pharmacist(), reason="Travel"
        )


def test_an_allowance_is_kept_when_the_order_is_not_charged_after_all(
    two_authorised, stripe_api, capture
):
    (first, second), prescription = two_authorised
    pharmacist = make_pharmacist()
    with capture():
        prescription_verify(
            prescription_id=prescription.pk, pharmacist=pharmacist, warnings_acknowledged=True
        )
    with capture(execute=True):
        assert order_settle(order_id=first.pk) == "captured: paid"
    prescription_allow_early_refill(
        prescription_id=prescription.pk, pharmacist=pharmacist, reason="Lost the supply"
    )
    # The second order's hold was cancelled at Stripe meanwhile: nothing is charged.
    stripe_api.v1.payment_intents.cancel(second.stripe_payment_intent)

    with capture(execute=True):
        outcome = order_settle(order_id=second.pk)

    assert outcome == "capture refused, the authorisation was canceled: cancelled"
    assert Prescription.objects.get(pk=prescription.pk).early_refill_allowed is True


def test_checkout_refuses_another_order_of_a_drug_while_one_waits(authorised):
    order, prescription = authorised
    before = stock()

    with pytest.raises(CheckoutError) as refused:
        place_waiting(order.patient, prescription)

    [problem] = refused.value.problems
    assert problem.kind == "order_waiting"
    assert order.number in problem.message
    assert "once it is charged or cancelled" in problem.message
    assert stock() == before


def test_checkout_takes_an_order_of_the_drug_again_once_the_waiting_one_is_cancelled(
    authorised, capture
):
    order, prescription = authorised
    decide(capture, prescription_reject, prescription, reason="Unreadable.")
    order.refresh_from_db()
    assert order.status == OrderStatus.CANCELLED
    again = place_waiting(order.patient, make_e_prescription(patient=order.patient))

    assert again.status == OrderStatus.PENDING_PAYMENT


def test_checkout_refuses_an_order_charged_at_once_while_one_of_the_drug_waits(authorised):
    """A verified prescription of the drug does not get round it: the waiting order is
    not counted for an early refill until it is charged."""
    order, _ = authorised
    make_verified_prescription(patient=order.patient)

    with pytest.raises(CheckoutError) as refused:
        place_order(patient=order.patient)

    assert [p.kind for p in refused.value.problems] == ["order_waiting"]


def _blocked_backends() -> int:
    """Connections to this database waiting for a lock (read live, not from the snapshot)."""
    with connection.cursor() as cursor:
        cursor.execute("SELECT pg_stat_clear_snapshot()")
        cursor.execute(
            "SELECT count(*) FROM pg_stat_activity "
            "WHERE datname = current_database() AND wait_event_type = 'Lock'"
        )
        return cursor.fetchone()[0]


def _settle_in_thread(order_id: int, outcomes: dict) -> threading.Thread:
    def run() -> None:
        try:
            outcomes[order_id] = order_settle(order_id=order_id)
        finally:
            connections.close_all()

    thread = threading.Thread(target=run)
    thread.start()
    return thread


def _wait_until(check, what: str) -> None:
    deadline = time.monotonic() + 20
    while not check():
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        time.sleep(0.02)


@pytest.mark.slow
@pytest.mark.django_db(transaction=True, serialized_rollback=True)
@pytest.mark.skipif(
    connection.vendor != "postgresql", reason="needs real concurrent transactions (PostgreSQL)"
)
def test_two_orders_settled_at_once_charge_one_and_cancel_the_other(
    two_authorised, stripe_api, settings
):
    """The first settle has captured and not yet committed when the second starts: the
    second waits for it (the patient's row), then counts it, instead of charging too."""
    (first, second), prescription = two_authorised
    decision_tasks = settings.PRESCRIPTION_DECISION_TASKS
    settings.PRESCRIPTION_DECISION_TASKS = []  # verified, the orders settled below
    prescription_verify(
        prescription_id=prescription.pk, pharmacist=make_pharmacist(), warnings_acknowledged=True
    )
    settings.PRESCRIPTION_DECISION_TASKS = decision_tasks
    outcomes: dict[int, str] = {}
    with transaction.atomic():
        # The first settle's move to paid (a history row) waits here, after its capture.
        with connection.cursor() as cursor:
            cursor.execute(f'LOCK TABLE "{OrderStatusChange._meta.db_table}" IN SHARE MODE')
        one = _settle_in_thread(first.pk, outcomes)
        _wait_until(
            lambda: (
                captures_of(stripe_api, first.stripe_payment_intent) == 1
                and _blocked_backends() == 1
            ),
            "the first settle to capture and wait",
        )
        two = _settle_in_thread(second.pk, outcomes)
        _wait_until(lambda: _blocked_backends() == 2, "the second settle to wait")
    one.join(timeout=30)
    two.join(timeout=30)

    assert outcomes[first.pk] == "captured: paid"
    assert outcomes[second.pk].startswith("authorisation cancelled: your earlier orders")
    assert captures_of(stripe_api, second.stripe_payment_intent) == 0
    assert units_used(prescription) == 10
