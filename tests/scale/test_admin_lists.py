"""Each admin list a pharmacist uses daily costs the same queries with 5 rows as with
40: default, searched and filtered (no query per row, no date hierarchy over the table).
"""

import pytest
from django.contrib import admin
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import timezone

from orders.models import Order, OrderStatus
from pharmacy.admin_search import CappedCountPaginator
from tests.scale.rows import LARGE, SMALL, add_audit_events, add_orders, add_prescriptions, queries

QUEUE = "admin:prescriptions_prescription_changelist"
ORDERS = "admin:orders_order_changelist"
PROFILES = "admin:prescriptions_medicalprofile_changelist"
AUDIT = "admin:prescriptions_auditevent_changelist"
TO_CHECK = "admin:dispensing_ordertocheck_changelist"

QUEUE_VIEWS = [
    {},
    {"q": "smith"},
    {"q": "robin1@"},
    {"q": "#1"},
    {"status__exact": "submitted"},
    {"order_waiting": "no"},
    {"has_blocking_checks__exact": "0", "q": "robin"},
]
ORDERS_VIEWS = [{}, {"q": "smith"}, {"q": "robin2"}, {"status__exact": "pending_payment"}]
PROFILE_VIEWS = [{}, {"q": "smith"}, {"kidney_disease__exact": "none"}]
AUDIT_VIEWS = [{}, {"q": "smith"}, {"q": "198.51.100.7"}, {"allowed__exact": "1"}]
TO_CHECK_VIEWS = [{}, {"q": "smith"}, {"q": "robin2@"}]


def _grow_and_measure(client, url, views, grow) -> tuple[list[int], list[int]]:
    grow(SMALL, start=0)
    small = [queries(client, url, params) for params in views]
    grow(LARGE - SMALL, start=SMALL)
    large = [queries(client, url, params) for params in views]
    return small, large


@pytest.mark.django_db
def test_the_queue_costs_the_same_queries_at_both_sizes(pharmacist_client):
    small, large = _grow_and_measure(
        pharmacist_client, reverse(QUEUE), QUEUE_VIEWS, add_prescriptions
    )
    assert small == large


@pytest.mark.django_db
def test_the_orders_list_costs_the_same_queries_at_both_sizes(pharmacist_client):
    small, large = _grow_and_measure(pharmacist_client, reverse(ORDERS), ORDERS_VIEWS, add_orders)
    assert small == large


def add_orders_to_check(count: int, *, start: int) -> None:
    add_orders(count, start=start)
    Order.objects.filter(status=OrderStatus.PENDING_PAYMENT).update(
        status=OrderStatus.PAID, paid_at=timezone.now()
    )


@pytest.mark.django_db
def test_the_to_check_queue_costs_the_same_queries_at_both_sizes(pharmacist_client):
    small, large = _grow_and_measure(
        pharmacist_client, reverse(TO_CHECK), TO_CHECK_VIEWS, add_orders_to_check
    )
    assert small == large


@pytest.mark.django_db
def test_the_profiles_list_costs_the_same_queries_at_both_sizes(pharmacist_client):
    small, large = _grow_and_measure(
        pharmacist_client, reverse(PROFILES), PROFILE_VIEWS, add_prescriptions
    )
    assert small == large


@pytest.mark.django_db
def test_the_audit_list_costs_the_same_queries_at_both_sizes(pharmacist_client, pharmacist):
    def grow(count, *, start):
        add_audit_events(count, actor=pharmacist)

    small, large = _grow_and_measure(pharmacist_client, reverse(AUDIT), AUDIT_VIEWS, grow)
    assert small == large


@pytest.mark.django_db
def test_a_search_finds_rows_by_each_indexed_column(pharmacist_client):
    add_prescriptions(4, start=0)
    url = reverse(QUEUE)

    by_name = pharmacist_client.get(url, {"q": "smith2"}).content.decode()
    by_email = pharmacist_client.get(url, {"q": "ROBIN1@"}).content.decode()
    both_words = pharmacist_client.get(url, {"q": "robin3 smith3"}).content.decode()
    neither = pharmacist_client.get(url, {"q": "robin3 smith2"}).content.decode()

    assert "Robin2 Smith2" in by_name and "Robin1 Smith1" not in by_name
    assert "Robin1 Smith1" in by_email and "Robin2 Smith2" not in by_email
    assert "Robin3 Smith3" in both_words and "Robin2 Smith2" not in both_words
    assert "Robin3 Smith3" not in neither and "Robin2 Smith2" not in neither


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("name", "params"),
    [
        (QUEUE, {"q": "smith", "status__exact": "submitted"}),
        (ORDERS, {}),
        (ORDERS, {"q": "smith"}),
        (PROFILES, {"q": "smith", "kidney_disease__exact": "none"}),
        (AUDIT, {}),
        (AUDIT, {"q": "smith"}),
        (TO_CHECK, {}),
        (TO_CHECK, {"q": "smith"}),
    ],
)
def test_a_big_list_counts_once_and_reads_no_dates_or_distinct_values(
    pharmacist_client, name, params
):
    """No date hierarchy (its MIN/MAX and DISTINCT dates over the table), no second
    count of the whole table, no DISTINCT over a search or a filter's choices."""
    add_orders(2, start=0)
    with CaptureQueriesContext(connection) as context:
        assert pharmacist_client.get(reverse(name), params).status_code == 200
    sql = [q["sql"] for q in context.captured_queries]

    assert sum("COUNT(" in s for s in sql) == 1, sql
    assert not [s for s in sql if "DISTINCT" in s], sql
    assert not [s for s in sql if "MIN(" in s or "date_trunc" in s.lower()], sql


@pytest.mark.django_db
def test_a_list_past_the_count_cap_stops_counting_and_says_more_than(
    pharmacist_client, monkeypatch
):
    """The count reads at most the cap's rows, however long the table."""
    monkeypatch.setattr(CappedCountPaginator, "count_cap", 3)
    add_prescriptions(5, start=0)
    with CaptureQueriesContext(connection) as context:
        html = pharmacist_client.get(reverse(QUEUE)).content.decode()
    (count,) = [q["sql"] for q in context.captured_queries if "COUNT(" in q["sql"]]

    assert "more than 3 prescriptions" in html
    assert "LIMIT 4" in count
    assert (
        pharmacist_client.get(reverse(QUEUE), {"q": "robin1@"})
        .content.decode()
        .count("1 prescription")
    )


@pytest.mark.django_db
def test_a_to_check_search_finds_orders_by_number_name_and_email(pharmacist_client):
    add_orders_to_check(3, start=0)
    url = reverse(TO_CHECK)
    second = Order.objects.get(patient__email="robin2@example.com")

    def found(term):
        html = pharmacist_client.get(url, {"q": term}).content.decode()
        return {o.number for o in Order.objects.all() if o.number in html}

    assert found(second.number.lower()) == {second.number}
    assert found("Robin2") == {second.number}  # the first name
    assert found("mith2") == {second.number}  # inside the surname
    assert found("ROBIN2@") == {second.number}
    assert len(found("smith")) == 3


@pytest.mark.django_db
def test_the_orders_list_writes_each_rows_checkbox_as_django_does_without_a_template(
    pharmacist_client,
):
    """The checkbox that selects a row for an action is the one Django's widget renders,
    written without rendering the widget's template once per row."""
    add_orders(3, start=0)
    response = pharmacist_client.get(reverse(ORDERS))
    html = response.content.decode()
    model_admin = admin.site._registry[Order]

    for order in Order.objects.all():
        assert admin.ModelAdmin.action_checkbox(model_admin, order) in html
    rendered = [t.name for t in response.templates]
    assert "django/forms/widgets/checkbox.html" not in rendered
