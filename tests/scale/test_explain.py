"""On PostgreSQL, the queue's, the orders', the "to check" queue's and a patient's
orders pages and their searches are answered by indexes: the plan reads the list in index order (no sort of the table) and
finds names through the trigram indexes, emails through the lowered-prefix index, never
scanning the table."""

import re

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import timezone

from orders.models import Order, OrderStatus
from prescriptions.models import Prescription
from tests.scale.rows import add_orders, add_prescriptions

pytestmark = [
    pytest.mark.django_db,
    pytest.mark.skipif(
        connection.vendor != "postgresql", reason="PostgreSQL's plans and indexes only"
    ),
]

QUEUE = "admin:prescriptions_prescription_changelist"
ORDERS = "admin:orders_order_changelist"
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


def _plan(sql: str, *, walk_an_index_with_a_filter: bool = True) -> str:
    """The plan with sequential scans off. `walk_an_index_with_a_filter=False` also turns
    off plain index scans, for a search: on a table of test size the planner may rather
    walk the primary key and filter every row than ask a trigram index, which is a full
    read under another name; only bitmap scans, which an index condition drives, remain."""
    with connection.cursor() as cursor:
        cursor.execute("SET LOCAL enable_seqscan = off")
        if not walk_an_index_with_a_filter:
            cursor.execute("SET LOCAL enable_indexscan = off")
        cursor.execute(f"EXPLAIN {sql}")
        plan = "\n".join(row[0] for row in cursor.fetchall())
        cursor.execute("RESET enable_seqscan")
        cursor.execute("RESET enable_indexscan")
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


def test_the_queue_filtered_by_status_reads_the_status_index_in_order(queue):
    plan = _plan(_page_query(queue, {"status__exact": "submitted"}))
    assert "prescription_queue_status" in plan, plan
    assert f"Seq Scan on {TABLE}" not in plan, plan
    assert "Sort" not in plan, plan


def test_the_queue_filtered_to_blocking_findings_reads_only_those(queue):
    """Few prescriptions have a blocking finding: the filter reads them from their own
    index, in queue order, for the page and for its count, not every prescription."""
    blocking = Prescription.objects.filter(partner_reference__endswith="7")
    blocking.update(has_blocking_checks=True)
    with connection.cursor() as cursor:
        cursor.execute(f"ANALYZE {TABLE}")
    params = {"has_blocking_checks__exact": "1"}
    with CaptureQueriesContext(connection) as context:
        assert queue.get(reverse(QUEUE), params).status_code == 200
    (count,) = [q["sql"] for q in context.captured_queries if q["sql"].startswith("SELECT COUNT")]

    for plan in (_plan(_page_query(queue, params)), _plan(count)):
        assert "prescription_queue_blocking" in plan, plan
        assert f"Seq Scan on {TABLE}" not in plan, plan
        assert "Sort" not in plan, plan


def _order_copies(count: int) -> None:
    made = list(Order.objects.values())
    Order.objects.bulk_create(
        Order(
            **{
                **{k: v for k, v in made[i % len(made)].items() if k not in ("id", "number")},
                "ship_name": f"Copy {i}",
            }
        )
        for i in range(count)
    )


@pytest.fixture
def orders(pharmacist_client):
    add_orders(3, start=0)
    _order_copies(3000)
    with connection.cursor() as cursor:
        cursor.execute("ANALYZE orders_order")
    return pharmacist_client


def _orders_plan(client, params, **options) -> str:
    with CaptureQueriesContext(connection) as context:
        assert client.get(reverse(ORDERS), params).status_code == 200
    (sql,) = [
        q["sql"]
        for q in context.captured_queries
        if q["sql"].startswith("SELECT") and 'ORDER BY "orders_order"."created_at" DESC' in q["sql"]
    ]
    return _plan(sql if "LIMIT" in sql else f"{sql} LIMIT 100", **options)


def test_the_orders_list_reads_its_index_in_order(orders):
    plan = _orders_plan(orders, {})
    assert "order_created" in plan, plan
    assert "Seq Scan on orders_order" not in plan, plan
    assert "Sort" not in plan, plan


def test_an_orders_search_uses_the_trigram_and_number_indexes(orders):
    plan = _orders_plan(orders, {"q": "smith"}, walk_an_index_with_a_filter=False)
    assert "order_ship_name_trgm" in plan, plan
    assert "accounts_user_last_trgm" in plan, plan
    assert "Seq Scan on orders_order" not in plan, plan


def test_an_orders_search_looks_its_matches_up_by_primary_key(orders):
    """A surname that a third of the orders match: the page still fetches its matches
    through the primary key, not by hashing them against a scan of every order (which
    the planner chose, at 100,000 orders, for a surname one patient in a hundred has)."""
    with CaptureQueriesContext(connection) as context:
        assert orders.get(reverse(ORDERS), {"q": "smith1"}).status_code == 200
    (sql,) = [q["sql"] for q in context.captured_queries if 'ORDER BY "orders_order"' in q["sql"]]
    with connection.cursor() as cursor:
        cursor.execute(f"EXPLAIN {sql if 'LIMIT' in sql else f'{sql} LIMIT 100'}")
        plan = "\n".join(row[0] for row in cursor.fetchall())
    # The page's own rows (the table unaliased; the search's subqueries are U0, V0...).
    assert not re.search(r"Seq Scan on orders_order +\(", plan), plan
    assert re.search(r"using orders_order_pkey on orders_order +\(", plan), plan


def _own_orders(patient, count: int) -> None:
    """`count` more orders of `patient`'s among the others, spread through the table."""
    made = Order.objects.filter(patient=patient).values().first()
    Order.objects.bulk_create(
        Order(**{**{k: v for k, v in made.items() if k not in ("id", "number")}})
        for _ in range(count)
    )


def test_a_patients_orders_page_reads_their_own_orders_in_order(orders, client):
    patient = Order.objects.earliest("pk").patient
    _own_orders(patient, 30)
    with connection.cursor() as cursor:
        cursor.execute("ANALYZE orders_order")
    client.force_login(patient)
    with CaptureQueriesContext(connection) as context:
        assert client.get(reverse("orders:list")).status_code == 200
    (sql,) = [q["sql"] for q in context.captured_queries if 'ORDER BY "orders_order"' in q["sql"]]
    plan = _plan(sql)
    assert "order_patient_created" in plan, plan
    assert "Sort" not in plan, plan  # a page of theirs, newest first, from the index


TO_CHECK = "admin:dispensing_ordertocheck_changelist"


@pytest.fixture
def to_check(orders):
    """A few hundred of the orders paid and waiting for the final check."""
    waiting = Order.objects.order_by("pk").values("pk")[:300]
    Order.objects.filter(pk__in=waiting).update(
        status=OrderStatus.PAID, paid_at=timezone.now(), checked_at=None
    )
    with connection.cursor() as cursor:
        cursor.execute("ANALYZE orders_order")
    return orders


def _to_check_query(client, params) -> str:
    with CaptureQueriesContext(connection) as context:
        assert client.get(reverse(TO_CHECK), params).status_code == 200
    (sql,) = [
        q["sql"]
        for q in context.captured_queries
        if q["sql"].startswith("SELECT") and 'ORDER BY "orders_order"."paid_at"' in q["sql"]
    ]
    return sql if "LIMIT" in sql else f"{sql} LIMIT 100"


def test_the_to_check_queue_reads_its_own_index_in_order(to_check):
    plan = _plan(_to_check_query(to_check, {}))
    assert "order_to_check" in plan, plan
    assert "Sort" not in plan, plan


def test_a_to_check_search_uses_the_trigram_index(to_check):
    plan = _plan(_to_check_query(to_check, {"q": "smith"}), walk_an_index_with_a_filter=False)
    assert "accounts_user_last_trgm" in plan, plan
    assert "Seq Scan on orders_order" not in plan, plan
