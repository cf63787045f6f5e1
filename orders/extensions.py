"""What another app adds to an order's life, without orders importing it.

Orders knows no dispensing (the apps depend one way). The dispensing app registers
here, from its AppConfig.ready, the two things only it knows:

- a stock return: when an order is refunded after its final check, the boxes that
  left a lot go back to that lot (and to the package's count only if the lot may
  still be sold); it answers which lines it put back, and orders puts back the rest;
- a dispatch hold: why a checked order's parcel must not be booked now (a recall of
  a lot in it), or "" when nothing stands in the way;
- what a final check leaves to send (the counselling offer of a first fill): the
  dispatch task, which every release queues, sends it in the worker after it booked
  the parcel (or found it could not), instead of a task of its own; and the sweep of lost work asks it to
  queue again what a lost or crashed task left unsent.

With nothing registered, orders runs as on its own: every line's boxes go back to the
package's stock, and every checked order may be booked.
"""

from collections.abc import Callable
from datetime import datetime

# handler(*, order, actor, note) -> the ids of the lines whose boxes it put back.
StockReturn = Callable[..., set[int]]
# handler(order_ids) -> {order id: why its parcel must not be booked}, for the held ones.
DispatchHold = Callable[[list[int]], dict[int, str]]
# handler(order_id, *, order=None) -> None: sends, here, what the order's final check
# left to send; `order`, when given, is the order's row (with its patient) just read.
CheckedOrderSend = Callable[..., None]
# handler(*, before, batch) -> how many tasks it queued again for work older than `before`.
LostWork = Callable[..., int]

_stock_returns: list[StockReturn] = []
_dispatch_holds: list[DispatchHold] = []
_checked_order_sends: list[CheckedOrderSend] = []
_lost_work: list[LostWork] = []


def _register(handlers: list, handler):
    """Add `handler` once (an app's ready() may run again, in tests)."""
    if handler not in handlers:
        handlers.append(handler)
    return handler


def register_stock_return(handler: StockReturn) -> StockReturn:
    return _register(_stock_returns, handler)


def register_dispatch_hold(handler: DispatchHold) -> DispatchHold:
    return _register(_dispatch_holds, handler)


def register_checked_order_send(handler: CheckedOrderSend) -> CheckedOrderSend:
    return _register(_checked_order_sends, handler)


def register_lost_work(handler: LostWork) -> LostWork:
    return _register(_lost_work, handler)


def stock_returned_elsewhere(*, order, actor=None, note: str = "") -> set[int]:
    """Run in the transaction that cancels or refunds `order` (once: those states are
    entered once): the lines whose boxes a registered app already put back."""
    returned: set[int] = set()
    for handler in _stock_returns:
        returned |= handler(order=order, actor=actor, note=note)
    return returned


def dispatch_hold_reasons(order_ids: list[int]) -> dict[int, str]:
    """Why each held order's parcel must not be booked now, by order id; the orders that
    may be booked are not in it. One question per registered app, however many orders
    (the sweep asks for a whole batch)."""
    reasons: dict[int, list[str]] = {}
    for handler in _dispatch_holds:
        for order_id, reason in handler(list(order_ids)).items():
            reasons.setdefault(order_id, []).append(reason)
    return {order_id: "; ".join(parts) for order_id, parts in reasons.items()}


def dispatch_hold_reason(order_id: int) -> str:
    """Why the order's parcel must not be booked now; "" when it may be."""
    return dispatch_hold_reasons([order_id]).get(order_id, "")


def checked_order_send(order_id: int, *, order=None) -> None:
    """Send what the order's final check left to send (the dispatch task, in the worker).

    Each handler sends at most once whatever runs it, and queues its own task for what
    fails to send. `order`: the order as the dispatch just committed it, if it did.
    """
    for handler in _checked_order_sends:
        handler(order_id, order=order)


def lost_work_elsewhere(*, before: datetime, batch: int) -> int:
    """Queue again the registered apps' work left undone since before `before`."""
    return sum(handler(before=before, batch=batch) for handler in _lost_work)
