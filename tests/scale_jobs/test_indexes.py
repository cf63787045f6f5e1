"""On PostgreSQL, each periodic job's selection is answered from the index made for it.

The job runs, its first query on the table it sweeps is taken as the database saw it,
and the planner is asked how it would run it with sequential scans ruled out: on a
table of millions it must read the job's own (partial) index, not every row. The
tables here are small, which is why the sequential scan is ruled out.
"""

from datetime import timedelta

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from dispensing.services.stock import lots_expire
from orders.payments import events
from orders.payments.reconciliation import paid_in_window
from orders.services import expire_unpaid_orders, sweeps
from orders.services.autorefill_runs import cycles_due
from orders.services.reminders import send_due_reminders
from prescriptions.services.partner_requests import due_partner_requests

pytestmark = [
    pytest.mark.django_db,
    pytest.mark.skipif(connection.vendor != "postgresql", reason="PostgreSQL's planner"),
]


def no_sequential_scans() -> None:
    with connection.cursor() as cursor:
        cursor.execute("SET LOCAL enable_seqscan = off")


def plan_of(job, table: str) -> str:
    """The plan of the first query `job` ran that reads `table`."""
    with CaptureQueriesContext(connection) as ran:
        job()
    sql = next(
        q["sql"]
        for q in ran.captured_queries
        if q["sql"].startswith("SELECT") and f'"{table}"' in q["sql"]
    )
    no_sequential_scans()
    with connection.cursor() as cursor:
        cursor.execute(f"EXPLAIN {sql}")
        return "\n".join(row[0] for row in cursor.fetchall())


@pytest.mark.parametrize(
    ("job", "table", "index"),
    [
        (
            lambda: send_due_reminders(today=timezone.localdate()),
            "orders_orderline",
            "order_line_refill_due_on",
        ),
        (expire_unpaid_orders, "orders_order", "order_unpaid_due_by"),
        (sweeps.lost_work_resume, "orders_order", "order_checked_not_shipped"),
        (sweeps.lost_work_resume, "orders_notification", "notification_unsent"),
        (events.unprocessed_events_requeue, "orders_paymentevent", "payment_event_unprocessed"),
        (
            lambda: cycles_due(today=timezone.localdate()),
            "orders_autorefill",
            "auto_refill_active_next_run",
        ),
        (lots_expire, "dispensing_lot", "lot_on_sale_expiry"),
        (due_partner_requests, "prescriptions_partnerrequest", "partner_request_due"),
    ],
    ids=[
        "reminders",
        "expiry",
        "lost-dispatch",
        "lost-email",
        "events",
        "auto-refill",
        "lots",
        "partner-requests",
    ],
)
def test_each_job_reads_its_own_index(job, table, index):
    assert index in plan_of(job, table)


def test_reconciliation_reads_the_window_from_the_paid_at_index():
    no_sequential_scans()
    plan = paid_in_window(timezone.now() - timedelta(days=3)).explain()
    assert "order_paid_at" in plan
