"""Orders built with the real services: a verified prescription, checkout, payment."""

from datetime import timedelta

from django.utils import timezone

from catalog.models import Package
from orders import services
from orders.cart import CartLine
from orders.models import DeliveryAddress, Order, OrderStatusChange
from orders.payments.events import process_event, record_event
from prescriptions.models import Prescription
from prescriptions.services import prescription_verify
from tests.factories import make_e_prescription, make_pharmacist, make_user_with_verified_email
from tests.fixtures.stripe import signed_event


def baclofen_package(strength: str = "10 mg", pill_count: int = 10) -> Package:
    return Package.objects.select_related("formulation__drug").get(
        formulation__drug__slug="baclofen",
        formulation__strength_label=strength,
        pill_count=pill_count,
    )


def make_patient(**fields):
    fields.setdefault("first_name", "Pat")
    fields.setdefault("last_name", "Jordan")
    return make_user_with_verified_email(**fields)


def make_verified_prescription(*, patient, **overrides) -> Prescription:
    """A baclofen 10 mg e-prescription (1 tablet three times a day), verified."""
    prescription = make_e_prescription(patient=patient, **overrides)
    return prescription_verify(
        prescription_id=prescription.pk, pharmacist=make_pharmacist(), warnings_acknowledged=True
    )


def make_address(patient) -> DeliveryAddress:
    address, _ = DeliveryAddress.objects.get_or_create(
        user=patient,
        defaults={
            "full_name": f"{patient.first_name} {patient.last_name}".strip() or "Pat Jordan",
            "line1": "12 Elm Street",
            "line2": "Apt 3",
            "city": "Springfield",
            "state": "NY",
            "zip_code": "10001",
        },
    )
    return address


def place_order(*, patient, package: Package | None = None, quantity: int = 1) -> Order:
    """An order waiting for payment; the patient needs a usable prescription."""
    return services.order_place(
        patient=patient,
        lines=[CartLine(package or baclofen_package(), quantity)],
        address=make_address(patient),
    )


def pay(order: Order, capture_on_commit) -> Order:
    """Pay as the payment task does, running what is queued after commit (dispatch, emails)."""
    with capture_on_commit(execute=True):
        services.order_mark_paid(order_id=order.pk, payment_intent="pi_test")
    order.refresh_from_db()
    return order


def pay_without_side_effects(order: Order, capture_on_commit) -> Order:
    """Paid, with the dispatch and receipt tasks queued but never run."""
    with capture_on_commit(execute=False):
        services.order_mark_paid(order_id=order.pk, payment_intent="pi_test")
    order.refresh_from_db()
    return order


def make_overdue(order: Order, *, minutes: int = 1) -> Order:
    Order.objects.filter(pk=order.pk).update(
        payment_due_by=timezone.now() - timedelta(minutes=minutes)
    )
    order.refresh_from_db()
    return order


def receive(event: dict) -> str:
    """Store and process one Stripe event as the webhook and its task do; its outcome."""
    payload, header = signed_event(event)
    stored, _ = record_event(payload=payload, signature=header)
    process_event(stored.pk)
    stored.refresh_from_db()
    return stored.outcome


def place_waiting(patient, prescription, *, package=None, quantity=1) -> Order:
    """An order waiting for a prescription still with the pharmacist (manual capture)."""
    package = package or baclofen_package()
    return services.order_place(
        patient=patient,
        lines=[CartLine(package, quantity)],
        address=make_address(patient),
        waiting={package.pk: prescription.pk},
    )


# Orders waiting for verification ---------------------------------------------------


def intent_of(client, order: Order):
    order.refresh_from_db()
    return client.v1.payment_intents.retrieve(order.stripe_payment_intent)


def stock() -> int:
    return baclofen_package().stock


def units_used(prescription: Prescription) -> int:
    prescription.refresh_from_db()
    return prescription.units_used


def moves(order: Order) -> list[tuple[str, str]]:
    return [(c.from_status, c.to_status) for c in OrderStatusChange.objects.filter(order=order)]


def decide(capture, decision, prescription, **kwargs):
    """A pharmacist's decision, with the tasks it queues run after commit."""
    with capture(execute=True):
        decision(prescription_id=prescription.pk, pharmacist=make_pharmacist(), **kwargs)


def captures_of(client, intent_id: str) -> int:
    events = client.v1.events.list({"type": "charge.captured", "limit": 100}).data
    return sum(1 for e in events if e.data.object.payment_intent == intent_id)
