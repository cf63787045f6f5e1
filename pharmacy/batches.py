"""Reading a large queryset a batch at a time, for the periodic jobs.

A job that loads every due id at once holds a list as long as the backlog, and one
that pages with OFFSET reads again every row before the page. Keyset pagination does
neither: each batch starts after the last row of the one before, through the index
the order follows, so it costs the same on the first batch as on the thousandth.
"""

from collections.abc import Iterator

from django.db.models import Q, QuerySet

# How many rows a job reads per query, unless it says otherwise.
JOB_BATCH = 500


def keyset_batches(
    queryset: QuerySet, *, order: str, size: int = JOB_BATCH, fields: tuple[str, ...] = ()
) -> Iterator[list]:
    """The pks of `queryset`'s rows in (`order`, pk) order, `size` at a time (with
    `fields`, a tuple of those columns per row instead).

    Each batch is read after the caller worked on the one before: a row the work took
    out of the queryset is not read again, and a row it left in is not read twice, so
    a job always ends. `order` must not be null on the rows (filter on it).
    """
    rows = queryset.order_by(order, "pk").values_list(order, "pk", *fields)
    after = Q()
    while batch := list(rows.filter(after)[:size]):
        yield [row[2:] if fields else row[1] for row in batch]
        value, pk = batch[-1][:2]
        after = Q(**{f"{order}__gt": value}) | Q(**{order: value, "pk__gt": pk})
