"""The pharmacist's queue puts first the prescriptions an order waits for (its card held)."""

from datetime import timedelta

from django.urls import reverse
from django.utils import timezone

from orders.services import order_cancel
from prescriptions.models import Prescription
from tests.factories import make_e_prescription
from tests.orders.factories import make_patient

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
