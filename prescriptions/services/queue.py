"""The queue's stored order: which prescriptions an order waits for, and since when."""

from collections.abc import Iterable

from django.db.models import OuterRef

from ..models import Prescription
from ..selectors import order_waiting_since


def prescription_order_waiting_refresh(*, prescription_ids: Iterable[int | None]) -> None:
    """Store, on each prescription, when the oldest order still waiting for it had its
    card authorised (None when none waits), so that the queue's index can order them.

    The orders app calls this whenever an order starts or stops waiting (authorised,
    then charged or cancelled) and when a waiting order's line gets its prescription.
    """
    ids = sorted({pk for pk in prescription_ids if pk})
    if not ids:
        return
    Prescription.objects.filter(pk__in=ids).update(
        order_waiting_since=order_waiting_since(OuterRef("pk"))
    )
