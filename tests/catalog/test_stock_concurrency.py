"""Staff adjustments and checkouts at the same moment, and refusals racing each other,
with real concurrent transactions on PostgreSQL: every move and every refusal counts."""

import threading
from collections.abc import Callable

import pytest
from django.db import connection, connections
from django.test import RequestFactory

from catalog.models import Package, StockAdjustment
from catalog.services import stock_adjust
from catalog.stock import take_stock
from prescriptions.audit import record_access
from prescriptions.models import AuditEvent, DeniedAttempt
from tests.factories import make_catalog_staff, make_user

pytestmark = [
    pytest.mark.slow,
    pytest.mark.django_db(transaction=True, serialized_rollback=True),
    pytest.mark.skipif(
        connection.vendor != "postgresql", reason="needs real concurrent transactions (PostgreSQL)"
    ),
]

RACERS = 12


def run_at_once(jobs: list[Callable[[], None]]) -> None:
    start = threading.Barrier(len(jobs))

    def run(job):
        try:
            start.wait()
            job()
        finally:
            connections.close_all()

    threads = [threading.Thread(target=run, args=(job,)) for job in jobs]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)


def test_adjustments_and_checkouts_at_once_all_count():
    package = Package.objects.filter(formulation__drug__slug="baclofen").first()
    Package.objects.filter(pk=package.pk).update(stock=50)
    staff = make_catalog_staff()

    def checkout():
        assert take_stock(package.pk, 3)

    def delivery():
        stock_adjust(package_id=package.pk, quantity=5, reason="Delivery", actor=staff)

    run_at_once([checkout, delivery] * (RACERS // 2))

    assert Package.objects.get(pk=package.pk).stock == 50 + (5 - 3) * (RACERS // 2)
    assert StockAdjustment.objects.count() == RACERS // 2
    # Each row's "left" is what its own move left: the n-th adjustment (rows are written
    # in the order the row lock was granted) left 50 + 5n minus 3 per checkout before it,
    # and the checkouts before each one only grow.
    lefts = StockAdjustment.objects.order_by("pk").values_list("stock_after", flat=True)
    checkouts_before = []
    for n, left in enumerate(lefts, start=1):
        taken = 50 + 5 * n - left
        assert taken % 3 == 0, f"adjustment {n} recorded {left}, which no order of moves leaves"
        checkouts_before.append(taken // 3)
    assert checkouts_before == sorted(checkouts_before)
    assert checkouts_before[0] >= 0 and checkouts_before[-1] <= RACERS // 2


def test_refusals_racing_each_other_are_one_event_with_every_one_counted():
    intruder = make_user(email="nosy@example.com")
    patient = make_user(email="pat@example.com")
    factory = RequestFactory()

    def refused():
        request = factory.get("/admin/prescriptions/medicalprofile/1/change/")
        request.user = intruder
        record_access(request, action="view_profile", patient=patient, obj=patient, allowed=False)

    run_at_once([refused] * RACERS)

    assert AuditEvent.objects.filter(allowed=False).count() == 1
    assert DeniedAttempt.objects.get().count == RACERS
