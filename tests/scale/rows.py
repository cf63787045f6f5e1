"""Rows for the scale tests, made with the project's factories and services, and the
number of queries a page costs."""

from decimal import Decimal

from django.db import connection
from django.test.utils import CaptureQueriesContext

from catalog.models import MedicationClass, Package
from prescriptions.models import AuditEvent
from prescriptions.services import prescription_verify, profile_update
from tests.factories import make_e_prescription, make_pharmacist
from tests.orders.factories import make_patient, make_verified_prescription, place_order

# The two sizes every page is measured at: what it costs must not grow between them.
SMALL, LARGE = 5, 40


def queries(client, url: str, params: dict | None = None) -> int:
    """How many queries one GET of the page runs (it must answer 200), once warm: a
    first request also fills the process's caches (content types, the session)."""
    _count(client, url, params)
    return _count(client, url, params)


def _count(client, url: str, params: dict | None) -> int:
    with CaptureQueriesContext(connection) as context:
        response = client.get(url, params or {})
        if hasattr(response, "streaming_content"):
            b"".join(response.streaming_content)
    assert response.status_code == 200, (url, params, response.status_code)
    # The staff session's timestamp is refreshed by the clock, not by the rows.
    return len([q for q in context.captured_queries if '"django_session"' not in q["sql"]])


def add_prescriptions(count: int, *, start: int) -> None:
    """`count` patients, each with a prescription in the queue (a few already decided)."""
    pharmacist = make_pharmacist()
    for i in range(start, start + count):
        patient = make_patient(
            email=f"robin{i}@example.com", first_name=f"Robin{i}", last_name=f"Smith{i}"
        )
        prescription = make_e_prescription(patient=patient)
        if i % 3 == 0:
            prescription_verify(
                prescription_id=prescription.pk, pharmacist=pharmacist, warnings_acknowledged=True
            )


def add_orders(count: int, *, start: int) -> None:
    """`count` patients, each with a verified prescription and an order placed with it."""
    Package.objects.update(stock=10_000)
    for i in range(start, start + count):
        patient = make_patient(
            email=f"robin{i}@example.com", first_name=f"Robin{i}", last_name=f"Smith{i}"
        )
        make_verified_prescription(patient=patient)
        place_order(patient=patient)


def add_audit_events(count: int, *, actor) -> None:
    AuditEvent.objects.bulk_create(
        AuditEvent(
            actor=actor,
            action=AuditEvent.Action.VIEW_PRESCRIPTION,
            allowed=True,
            object_repr=f"Prescription #{i} for Robin Smith{i}",
            path=f"/admin/prescriptions/prescription/{i}/change/",
            ip_address="198.51.100.7",
        )
        for i in range(count)
    )


def edit_profile(patient, count: int) -> None:
    """`count` edits of the patient's profile, each changing a number and what they take."""
    classes = list(MedicationClass.objects.order_by("pk")[:2])
    for i in range(count):
        profile_update(
            patient=patient,
            data={
                "weight_kg": Decimal(60 + (i % 30)),
                "medication_classes": classes[: (i % 2) + 1],
            },
        )
