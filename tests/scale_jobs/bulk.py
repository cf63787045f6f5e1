"""Many rows in a few statements, copied from one made through the real services, for
the tests that run a periodic job at two sizes and compare its queries."""

from collections.abc import Callable
from typing import TypeVar

from django.db import connection
from django.db.models import Model
from django.test.utils import CaptureQueriesContext

from orders.models import Order, OrderLine, new_order_number

M = TypeVar("M", bound=Model)


def _copy(template: M, i: int, fields: dict) -> M:
    model = type(template)
    row = model(
        **{
            f.attname: getattr(template, f.attname)
            for f in model._meta.concrete_fields
            if not f.primary_key
        }
    )
    for name, value in fields.items():
        setattr(row, name, value(i) if callable(value) else value)
    return row


def copies(template: M, count: int, **fields) -> list[M]:
    """`count` new rows like `template`, with `fields` set (a callable gets the copy's
    index, for unique columns); saved with one bulk insert, pks known."""
    rows = [_copy(template, i, fields) for i in range(count)]
    return type(template).objects.bulk_create(rows)


def order_copies(template: Order, count: int, *, line_fields=None, **fields) -> list[Order]:
    """`count` orders like `template`, each with copies of its lines (`line_fields` set on
    them); stock and prescription units are not taken, which no job here reads."""
    orders = copies(template, count, number=lambda i: new_order_number(), **fields)
    template_lines = list(template.lines.all())
    lines = [
        _copy(line, 0, {"order_id": order.pk, **(line_fields or {})})
        for order in orders
        for line in template_lines
    ]
    OrderLine.objects.bulk_create(lines)
    return orders


def queries(job: Callable[[], object]) -> int:
    """How many queries `job()` ran."""
    with CaptureQueriesContext(connection) as ran:
        job()
    return len(ran.captured_queries)
