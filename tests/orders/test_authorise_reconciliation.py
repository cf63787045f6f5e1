"""The nightly reconciliation of card authorisations: a hold at Stripe that is no
order's, and an order waiting for verification on a hold Stripe no longer has."""

from datetime import timedelta

from django.utils import timezone

from orders.models import Discrepancy, Order
from orders.payments.reconciliation import reconcile
from prescriptions.services import prescription_verify
from tests.factories import make_pharmacist
from tests.fixtures.stripe import pay_on_hosted_page

LATER = timedelta(minutes=30)  # past the grace period for webhooks still on their way


def test_an_authorisation_of_no_order_is_listed_once(authorised, stripe_api):
    session = stripe_api.v1.checkout.sessions.create(
        {
            "mode": "payment",
            "line_items": [
                {
                    "price_data": {
                        "currency": "usd",
                        "unit_amount": 1500,
                        "product_data": {"name": "Not an order"},
                    },
                    "quantity": 1,
                }
            ],
            "payment_intent_data": {"capture_method": "manual"},
            "success_url": "https://example.com/ok",
        }
    )
    assert pay_on_hosted_page(session.url) == 303

    first = [f for f in reconcile(now=timezone.now() + LATER) if f.stripe_session_id == session.id]
    again = [f for f in reconcile(now=timezone.now() + LATER) if f.stripe_session_id == session.id]

    assert [f.kind for f in first] == [Discrepancy.Kind.AUTHORISED_NO_ORDER]
    assert first[0].order is None
    assert again == []
    order, _ = authorised  # a hold that is an order's own is not listed
    assert not Discrepancy.objects.filter(stripe_session_id=order.stripe_session_id).exists()


def test_an_order_waiting_on_a_hold_stripe_lost_is_listed(authorised, stripe_api, stripe_standin):
    order, _ = authorised
    stripe_standin.lapse_authorization(order.stripe_payment_intent)  # its webhook never came
    Order.objects.filter(pk=order.pk).update(created_at=timezone.now() - timedelta(hours=1))

    findings = [f for f in reconcile(now=timezone.now() + LATER) if f.order_id == order.pk]

    assert [f.kind for f in findings] == [Discrepancy.Kind.WAITING_NO_AUTHORISATION]
    assert "authorisation at Stripe is canceled" in findings[0].detail


def test_an_order_charged_on_verification_is_consistent(authorised, stripe_api, capture):
    order, prescription = authorised
    with capture(execute=True):
        prescription_verify(
            prescription_id=prescription.pk,
            pharmacist=make_pharmacist(),
            warnings_acknowledged=True,
        )
    Order.objects.filter(pk=order.pk).update(created_at=timezone.now() - timedelta(hours=1))

    findings = [f for f in reconcile(now=timezone.now() + LATER) if f.order_id == order.pk]

    assert Order.objects.get(pk=order.pk).status == "paid"  # waiting for the final check
    assert findings == []
