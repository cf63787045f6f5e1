"""On PostgreSQL, the queue's default page and its searches are answered by indexes:
the plan reads the queue in index order (no sort of the table) and finds names through
the trigram index, emails through the lowered-prefix index, never scanning the table."""

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from prescriptions.models import Prescription
from tests.scale.rows import add_prescriptions

pytestmark = [
    pytest.mark.django_db,
    pytest.mark.skipif(
        connection.vendor != "postgresql", reason="PostgreSQL's plans and indexes only"
    ),
]

QUEUE = "admin:prescriptions_prescription_changelist"
TABLE = "prescriptions_prescription"


def _page_query(client, params) -> str:
    """The SQL of the query that reads the page's rows, as on a queue of more than one
    page (a page's worth of rows: the admin leaves the LIMIT out when all fit on one)."""
    with CaptureQueriesContext(connection) as context:
        assert client.get(reverse(QUEUE), params).status_code == 200
    (sql,) = [
        q["sql"]
        for q in context.captured_queries
        if q["sql"].startswith("SELECT") and f'ORDER BY "{TABLE}"."queue_rank"' in q["sql"]
    ]
    return sql if "LIMIT" in sql else f"{sql} LIMIT 50"


def _plan(sql: str) -> str:
    with connection.cursor() as cursor:
        cursor.execute("SET LOCAL enable_seqscan = off")
        cursor.execute(f"EXPLAIN {sql}")
        plan = "\n".join(row[0] for row in cursor.fetchall())
        cursor.execute("RESET enable_seqscan")
    return plan


def _copies(count: int) -> None:
    """`count` more rows like those the factories made, in bulk: enough that reading a
    page through an index is cheaper than sorting the table, as in production."""
    made = list(Prescription.objects.values())
    Prescription.objects.bulk_create(
        Prescription(
            **{
                **{k: v for k, v in made[i % len(made)].items() if k not in ("id", "queue_rank")},
                "partner_reference": f"copy-{i}",
                "patient_email": f"copy{i}@example.com",
                "patient_name": f"Copy {i}",
            }
        )
        for i in range(count)
    )


@pytest.fixture
def queue(pharmacist_client):
    add_prescriptions(6, start=0)
    _copies(3000)
    with connection.cursor() as cursor:
        cursor.execute(f"ANALYZE {TABLE}")
    return pharmacist_client


def test_the_default_queue_reads_the_queue_index_in_order(queue):
    plan = _plan(_page_query(queue, {}))
    assert "prescription_queue" in plan, plan
    assert f"Seq Scan on {TABLE}" not in plan, plan
    assert "Sort" not in plan, plan  # the index gives the order: only a page is read


def test_a_name_search_uses_the_trigram_index(queue):
    plan = _plan(_page_query(queue, {"q": "smith"}))
    assert "prescription_patient_trgm" in plan, plan
    assert f"Seq Scan on {TABLE}" not in plan, plan


def test_an_email_search_uses_the_lowered_prefix_index(queue):
    plan = _plan(_page_query(queue, {"q": "Robin1@"}))
    assert "prescription_email_lower" in plan, plan
    assert f"Seq Scan on {TABLE}" not in plan, plan
