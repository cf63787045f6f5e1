"""What the worker's two tasks of a paid order cost in queries, each with its email sent
after its commit (issue 18: worker CPU). Counted inside the test's transaction, so each
atomic block is a SAVEPOINT and its RELEASE."""

from django.core import mail
from django.db import connection
from django.test.utils import CaptureQueriesContext

from dispensing.services.final_check import order_final_check
from orders.models import OrderStatus
from orders.payments.events import record_event
from orders.tasks.payments import confirm_payment
from orders.tasks.shipping import dispatch_order
from tests.dispensing.factories import confirmations_as_planned, receive_lot
from tests.factories import make_pharmacist
from tests.fixtures.stripe import pay_at_standin, signed_event
from tests.orders.factories import place_order

# Payment: lock the event, find and lock the order with its patient (in the handler's
# savepoint; the paid move takes none of its own), the paid move (order, status change,
# its lines with their drugs and refill dates, whose patient's pages move without a
# query: pharmacy/page_versions.py), the receipt's row (one INSERT .. ON CONFLICT, no
# read first), the refund-before-payment check, the event; then the receipt, from that
# order and those lines: mark its row sent while unsent (the UPDATE locks it; no read).
CONFIRM_QUERIES = 16
# Dispatch: the order with whether it has a shipment, the hold check, then the order
# locked with its patient, the hold check again, the move, the shipment, the email's
# row; then the email, from that order and its shipment: mark its row sent while
# unsent, the lines; then the first fill's counselling offer, from the same order (lock
# it, mark it sent: no task of its own).
DISPATCH_QUERIES = 18


def test_the_payment_and_dispatch_tasks_with_their_emails_run_in_few_queries(
    prescribed_patient, stripe_api, capture
):
    order = place_order(patient=prescribed_patient)
    receive_lot(package=order.lines.first().package, quantity=20)
    payload, header = signed_event(pay_at_standin(stripe_api, order))
    event, _ = record_event(payload=payload, signature=header)

    with CaptureQueriesContext(connection) as paying, capture(execute=True):
        confirm_payment.apply(args=(event.pk,))
    assert len(paying.captured_queries) == CONFIRM_QUERIES, paying.captured_queries

    lines, lots = confirmations_as_planned(order)
    with capture(execute=False):  # its dispatch runs below, counted
        order_final_check(
            order_id=order.pk, pharmacist=make_pharmacist(), drug_confirmed_lines=lines, lots=lots
        )
    with CaptureQueriesContext(connection) as dispatching, capture(execute=True):
        dispatch_order.apply(args=(order.pk,))
    assert len(dispatching.captured_queries) == DISPATCH_QUERIES, dispatching.captured_queries

    order.refresh_from_db()
    assert order.status == OrderStatus.DISPATCHED
    subjects = [message.subject for message in mail.outbox]
    assert any(f"Receipt for order {order.number}" in subject for subject in subjects)
    assert any(f"Order {order.number} is on its way" in subject for subject in subjects)
    assert any(f"Order {order.number}: a pharmacist can talk" in subject for subject in subjects)
