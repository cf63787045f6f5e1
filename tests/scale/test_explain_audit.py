"""On PostgreSQL, the audit trail's list reads the newest events through the index on
its order, whole and filtered by what a pharmacist or auditor filters it by (refused
looks, one kind of look): a page of rows, never the trail sorted."""

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from prescriptions.models import AuditEvent
from tests.scale.rows import add_audit_events

pytestmark = [
    pytest.mark.django_db,
    pytest.mark.skipif(
        connection.vendor != "postgresql", reason="PostgreSQL's plans and indexes only"
    ),
]

AUDIT = "admin:prescriptions_auditevent_changelist"
TABLE = "prescriptions_auditevent"


@pytest.fixture
def trail(pharmacist_client, pharmacist):
    add_audit_events(6000, actor=pharmacist)
    AuditEvent.objects.bulk_create(
        AuditEvent(
            actor=pharmacist,
            action=AuditEvent.Action.VIEW_PROFILE,
            allowed=False,
            object_repr=f"Medical profile of robin{i}@example.com",
            path="/admin/prescriptions/medicalprofile/1/change/",
        )
        for i in range(150)
    )
    with connection.cursor() as cursor:
        cursor.execute(f"ANALYZE {TABLE}")
    return pharmacist_client


def _page_plan(client, params) -> str:
    """The plan of the query that reads the page's rows, with sequential and bitmap
    scans off: on a table of test size (150 refused looks) the planner may rather fetch
    them all and sort them than walk an index, which it does not on a real trail."""
    with CaptureQueriesContext(connection) as context:
        assert client.get(reverse(AUDIT), params).status_code == 200
    (sql,) = [
        q["sql"]
        for q in context.captured_queries
        if q["sql"].startswith("SELECT") and f'ORDER BY "{TABLE}"."at" DESC' in q["sql"]
    ]
    # As on a trail of more than one page of them (the admin leaves the LIMIT out when
    # all fit on one).
    sql = sql if "LIMIT" in sql else f"{sql} LIMIT 100"
    with connection.cursor() as cursor:
        cursor.execute("SET LOCAL enable_seqscan = off")
        cursor.execute("SET LOCAL enable_bitmapscan = off")
        cursor.execute(f"EXPLAIN {sql}")
        plan = "\n".join(row[0] for row in cursor.fetchall())
        cursor.execute("RESET enable_seqscan")
        cursor.execute("RESET enable_bitmapscan")
    return plan


@pytest.mark.parametrize(
    ("params", "index"),
    [
        ({}, "audit_at"),
        ({"allowed__exact": "0"}, "audit_allowed_at"),
        ({"action__exact": AuditEvent.Action.VIEW_PROFILE}, "audit_action_at"),
    ],
    ids=["whole", "refused", "one-action"],
)
def test_the_audit_list_reads_the_newest_events_from_its_index(trail, params, index):
    plan = _page_plan(trail, params)
    assert f"Index Scan Backward using {index} on {TABLE}" in plan, plan
    assert "Sort" not in plan, plan
