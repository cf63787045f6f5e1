"""The pharmacist's queue puts first the prescriptions an order waits for (its card held)."""

from datetime import timedelta

from django.urls import reverse
from django.utils import timezone

from orders.models import OrderStatus
from orders.services import order_cancel
from prescriptions.models import Prescription
from prescriptions.models.prescription import (
    QUEUE_DECIDED,
    QUEUE_NEEDS_INFO,
    QUEUE_ORDER_WAITING,
)
from prescriptions.services import (
    prescription_request_info,
    prescription_respond,
    prescription_verify,
)
from tests.factories import make_e_prescription
from tests.orders.factories import decide, make_patient

QUEUE = "admin:prescriptions_prescription_changelist"


def test_a_prescription_an_order_waits_for_comes_first_and_says_since_when(
    authorised, pharmacist_client
):
    _, waited_for = authorised
    older = make_e_prescription(patient=make_patient())
    Prescription.objects.filter(pk=older.pk).update(submitted_at=timezone.now() - timedelta(days=3))

    html = pharmacist_client.get(reverse(QUEUE)).content.decode()

    assert html.index(f"#{waited_for.pk}<") < html.index(f"#{older.pk}<")
    assert "card held" in html
    assert html.count("card held") == 1  # only the prescription an order waits for


def test_the_queue_filters_prescriptions_an_order_waits_for(authorised, pharmacist_client):
    _, waited_for = authorised
    other = make_e_prescription(patient=make_patient())

    waiting = pharmacist_client.get(reverse(QUEUE), {"order_waiting": "yes"}).content.decode()
    not_waiting = pharmacist_client.get(reverse(QUEUE), {"order_waiting": "no"}).content.decode()

    assert f"#{waited_for.pk}<" in waiting and f"#{other.pk}<" not in waiting
    assert f"#{other.pk}<" in not_waiting and f"#{waited_for.pk}<" not in not_waiting


def test_once_the_order_is_settled_nothing_waits_for_the_prescription(
    authorised, pharmacist_client
):
    order, waited_for = authorised
    before = pharmacist_client.get(reverse(QUEUE), {"order_waiting": "yes"}).content.decode()
    assert f"#{waited_for.pk}<" in before

    order_cancel(order_id=order.pk, actor=order.patient, note="Cancelled by the patient")

    html = pharmacist_client.get(reverse(QUEUE), {"order_waiting": "yes"}).content.decode()

    assert f"#{waited_for.pk}<" not in html


def test_a_charged_order_no_longer_waits_and_info_asked_keeps_it_waiting(
    authorised, stripe_api, capture
):
    """The queue's stored order follows the order: still waiting while the pharmacist
    asks the patient, no longer once verification charged the card."""
    order, waited_for = authorised
    assert Prescription.objects.get(pk=waited_for.pk).queue_rank == QUEUE_ORDER_WAITING

    decide(capture, prescription_request_info, waited_for, message="Send page two.")
    asked = Prescription.objects.get(pk=waited_for.pk)
    assert asked.order_waiting_since == order.authorised_at
    assert asked.queue_rank == QUEUE_NEEDS_INFO

    waited_for.refresh_from_db()
    prescription_respond(prescription_id=waited_for.pk, patient=order.patient, note="Here.")
    assert Prescription.objects.get(pk=waited_for.pk).queue_rank == QUEUE_ORDER_WAITING

    waited_for.refresh_from_db()
    decide(capture, prescription_verify, waited_for, warnings_acknowledged=True)
    order.refresh_from_db()
    assert order.status != OrderStatus.AUTHORISED  # charged
    verified = Prescription.objects.get(pk=waited_for.pk)
    assert verified.order_waiting_since is None
    assert verified.queue_rank == QUEUE_DECIDED
