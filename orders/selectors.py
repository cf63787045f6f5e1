"""Reading orders for pages and services."""

from django.utils import timezone

from .cart import CartLine
from .models import Order, OrderStatus


def matching_pending_order(*, patient, lines: list[CartLine]) -> Order | None:
    """The patient's order still waiting for payment with exactly these lines, if any.

    A checkout whose answer was lost (the order committed, then the response failed)
    is submitted again with the same cart; it must lead to that order's payment, not
    to a second order holding the same stock.
    """
    wanted = sorted((line.package.pk, line.quantity) for line in lines)
    candidates = Order.objects.filter(
        patient=patient,
        status=OrderStatus.PENDING_PAYMENT,
        payment_due_by__gt=timezone.now(),
    ).prefetch_related("lines")
    for order in candidates:
        if sorted((line.package_id, line.quantity) for line in order.lines.all()) == wanted:
            return order
    return None
