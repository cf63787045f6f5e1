"""Ordering again: the lines of an order the patient has received, back in the cart.

The reminder email and the order page lead here. What goes in the cart is what
checkout would accept now: the same packages, if still sold, in the same quantities
where the patient's verified prescriptions still cover them (fewer where they cover
less, said so); a line is left out, with checkout's own reason, when it is too early
for a refill, when no prescription covers one package, or while another order of the
drug waits for a pharmacist. Checkout then runs every check again, so nothing here is
trusted beyond filling the cart.
"""

from dataclasses import dataclass, field

from django.core.exceptions import ValidationError
from django.db.models import Prefetch

from catalog.models import Package

from ..cart import Cart, CartLine
from ..models import Order, OrderLine, OrderStatus
from .refusals import coverage, line_refusals

# Orders whose medicine the patient has, or has on its way: the ones worth repeating.
REORDERABLE_STATUSES = (OrderStatus.DISPATCHED, OrderStatus.DELIVERED)


@dataclass(frozen=True)
class ReorderLine:
    description: str
    ordered: int  # packages in the earlier order
    package: Package | None = None
    quantity: int = 0  # packages that go in the cart; 0 when refused
    refusals: tuple[str, ...] = ()
    note: str = ""  # why fewer than before

    @property
    def units(self) -> int:
        return self.quantity * self.package.pill_count if self.package else 0


@dataclass
class ReorderPlan:
    order: Order
    lines: list[ReorderLine] = field(default_factory=list)
    refusal: str = ""  # why the whole order cannot be repeated

    @property
    def cart_lines(self) -> list[CartLine]:
        return [CartLine(ln.package, ln.quantity) for ln in self.lines if ln.quantity]

    @property
    def refusals(self) -> list[str]:
        reasons = [self.refusal] if self.refusal else []
        return reasons + [reason for line in self.lines for reason in line.refusals]

    @property
    def notes(self) -> list[str]:
        return [line.note for line in self.lines if line.note]


def _order(*, patient, order_id: int) -> Order:
    lines = OrderLine.objects.select_related("package__formulation__drug").order_by("pk")
    return (
        Order.objects.filter(pk=order_id, patient=patient)
        .prefetch_related(Prefetch("lines", queryset=lines))
        .get()
    )


def reorder_plan(*, patient, order_id: int) -> ReorderPlan:
    """What ordering `order_id` again would put in the cart, and what it leaves out and
    why; reads only. Raises Order.DoesNotExist for an order not the patient's."""
    order = _order(patient=patient, order_id=order_id)
    plan = ReorderPlan(order)
    if order.status not in REORDERABLE_STATUSES:
        plan.refusal = (
            f"Order {order.number} is {order.get_status_display().lower()}: only an order "
            "that was dispatched or delivered can be ordered again."
        )
        return plan
    lines = list(order.lines.all())
    on_sale = (
        Package.objects.purchasable()
        .select_related("formulation__drug")
        .in_bulk([line.package_id for line in lines])
    )
    units_left: dict[int, int] = {}  # by formulation, as this plan uses them
    for line in lines:
        plan.lines.append(_plan_line(patient, line, on_sale.get(line.package_id), units_left))
    return plan


def _plan_line(patient, line: OrderLine, package: Package | None, units_left) -> ReorderLine:
    ordered = line.quantity
    if package is None:
        return ReorderLine(
            line.description, ordered, refusals=(f"{line.description}: no longer sold.",)
        )
    formulation_id = package.formulation_id
    if formulation_id not in units_left:
        units_left[formulation_id] = coverage(patient=patient, lines=[CartLine(package, 1)])[
            package.pk
        ]
    covered = units_left[formulation_id]
    quantity = min(ordered, covered // package.pill_count)
    problems = line_refusals(patient=patient, line=CartLine(package, max(quantity, 1)))
    refusals = tuple(problem.message for problem in problems)
    if not quantity and not refusals:
        refusals = (
            f"{line.description}: your prescriptions' {covered} units left go to the other "
            "lines of this order.",
        )
    if refusals:
        return ReorderLine(line.description, ordered, package, refusals=refusals)
    units_left[formulation_id] -= quantity * package.pill_count
    note = ""
    if quantity < ordered:
        unit = package.formulation.unit_plural
        note = (
            f"{line.description}: {quantity} instead of {ordered}, as your prescription "
            f"covers {covered} more {unit}."
        )
    return ReorderLine(line.description, ordered, package, quantity, note=note)


def reorder_fill_cart(*, patient, order_id: int, cart: Cart) -> ReorderPlan:
    """Put what `reorder_plan` allows in the cart, each package at its planned quantity
    (set, not added: ordering again twice fills the cart once); other lines already in
    the cart stay. Raises ValidationError with every reason when nothing can go in.

    Only the session's cart changes: no row is written, so there is nothing to lock,
    and checkout takes stock and units as for any cart.
    """
    plan = reorder_plan(patient=patient, order_id=order_id)
    if not plan.cart_lines:
        raise ValidationError(plan.refusals or ["This order has nothing to order again."])
    for line in plan.cart_lines:
        cart.set_quantity(line.package.pk, line.quantity)
    return plan
