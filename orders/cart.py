"""The shopping cart, kept in the session: anonymous visitors have one, and it
survives signing in because Django keeps session data when it rotates the key."""

from dataclasses import dataclass
from decimal import Decimal

from catalog.models import Package

SESSION_KEY = "cart"
COUNT_KEY = "cart_count"
# An abuse limit, not the prescription's (orders.selectors.quantity_refusal says that
# one): high enough for a 90-day supply of 8 units a day in packs of 10 (72 packs).
MAX_PACKAGES_PER_LINE = 90
MAX_ID = 2**63 - 1  # the largest primary key a database holds


@dataclass
class CartLine:
    package: Package
    quantity: int

    @property
    def line_total(self) -> Decimal:
        return self.package.price * self.quantity

    @property
    def units(self) -> int:
        return self.package.pill_count * self.quantity


class Cart:
    def __init__(self, session):
        self.session = session
        self.items: dict[str, int] = dict(session.get(SESSION_KEY, {}))

    def __len__(self) -> int:
        return sum(self.items.values())

    def _save(self) -> None:
        self.session[SESSION_KEY] = self.items
        self.session[COUNT_KEY] = len(self)

    def add(self, package: Package, quantity: int = 1) -> int:
        """Add packages, up to the per-line maximum; returns the line's new quantity."""
        key = str(package.pk)
        self.items[key] = min(self.items.get(key, 0) + quantity, MAX_PACKAGES_PER_LINE)
        self._save()
        return self.items[key]

    def set_quantity(self, package_id: int, quantity: int) -> None:
        key = str(package_id)
        if quantity <= 0:
            self.items.pop(key, None)
        else:
            self.items[key] = min(quantity, MAX_PACKAGES_PER_LINE)
        self._save()

    def remove(self, package_id: int) -> None:
        self.set_quantity(package_id, 0)

    def clear(self) -> None:
        self.items = {}
        self._save()

    def lines(self) -> list[CartLine]:
        """The lines with their packages, in one query; packages no longer sold drop out."""
        ids = [int(pk) for pk in self.items if pk.isdigit() and int(pk) <= MAX_ID]
        packages = (
            Package.objects.purchasable()
            .filter(pk__in=ids)
            .select_related("formulation__drug")
            .order_by("formulation__drug__name", "formulation__position", "pk")
        )
        return [CartLine(package, self.items[str(package.pk)]) for package in packages]

    @staticmethod
    def total(lines: list[CartLine]) -> Decimal:
        return sum((line.line_total for line in lines), Decimal("0.00"))
