"""Lots received and orders checked through the real dispensing services."""

from datetime import date, timedelta

from django.utils import timezone

from dispensing.models import Lot
from dispensing.services.final_check import LotConfirmation, final_check_plan, order_final_check
from dispensing.services.stock import lot_receive
from orders.models import Order
from tests.factories import make_pharmacist

_lots = iter(range(1, 10**6))


def in_days(days: int) -> date:
    return timezone.localdate() + timedelta(days=days)


def receive_lot(
    *,
    package,
    quantity: int = 20,
    expires_in_days: int = 400,
    lot_number: str | None = None,
    received_by=None,
) -> Lot:
    return lot_receive(
        package_id=package.pk,
        lot_number=lot_number or f"LT{next(_lots):05d}",
        expiry_date=in_days(expires_in_days),
        quantity=quantity,
        supplier="McKesson",
        invoice_reference="INV-2026-0042",
        received_by=received_by or make_pharmacist(),
    )


def confirmations_as_planned(order: Order) -> tuple[set[int], list[LotConfirmation]]:
    """What a pharmacist holding the right boxes confirms: the planned lots, exactly."""
    plans = final_check_plan(order=order)
    lines = {plan.line.pk for plan in plans}
    lots = [
        LotConfirmation(plan.line.pk, a.lot_number, a.expiry_date, a.quantity)
        for plan in plans
        for a in plan.allocations
    ]
    return lines, lots


def check_as_planned(order: Order, *, pharmacist=None, capture=None):
    """Perform the final check as a pharmacist holding the right boxes; with `capture`
    (django_capture_on_commit_callbacks), run the dispatch it queues."""
    pharmacist = pharmacist or make_pharmacist()
    lines, lots = confirmations_as_planned(order)

    def run():
        return order_final_check(
            order_id=order.pk, pharmacist=pharmacist, drug_confirmed_lines=lines, lots=lots
        )

    if capture is None:
        return run()
    with capture(execute=True):
        check = run()
    order.refresh_from_db()
    return check


def release(order: Order, *, capture, pharmacist=None):
    """Pass a paid order's final check as a pharmacist holding the right boxes, and run
    the dispatch it queues. A line no lot on hand covers gets a lot received first
    (which, as any delivery, adds its boxes to the package's stock)."""
    for line in order.lines.select_related("package"):
        covered = Lot.objects.sellable().filter(
            package=line.package, quantity_on_hand__gte=line.quantity
        )
        if not covered.exists():
            receive_lot(package=line.package, quantity=max(line.quantity, 20))
    return check_as_planned(order, pharmacist=pharmacist, capture=capture)
