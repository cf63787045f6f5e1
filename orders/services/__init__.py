"""State changes of the orders app. Each runs in one transaction."""

from .checkout import CheckoutError, address_save, order_check_out, order_place
from .lifecycle import (
    expire_unpaid_orders,
    order_cancel,
    order_mark_delivered,
    order_mark_dispatched,
    order_mark_paid,
    order_mark_refunded,
    order_release_for_dispatch,
    order_return_to_check,
)
from .reorder import reorder_fill_cart, reorder_plan

__all__ = [
    "CheckoutError",
    "address_save",
    "expire_unpaid_orders",
    "order_cancel",
    "order_check_out",
    "order_mark_delivered",
    "order_mark_dispatched",
    "order_mark_paid",
    "order_mark_refunded",
    "order_place",
    "order_release_for_dispatch",
    "order_return_to_check",
    "reorder_fill_cart",
    "reorder_plan",
]
