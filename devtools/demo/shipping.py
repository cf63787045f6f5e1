"""The demo pharmacy's delivery options, as staff would set them up in the admin."""

from decimal import Decimal

from orders.models import ShippingOption

OPTIONS = [
    # name, price, business days at the soonest and at the latest
    ("Standard", Decimal("4.95"), 3, 5),
    ("Express", Decimal("14.95"), 1, 2),
]


def ensure_demo_shipping() -> list[ShippingOption]:
    """Create the options once; staff's later edits are kept when seeding again."""
    options = []
    for position, (name, price, days_min, days_max) in enumerate(OPTIONS):
        option, _ = ShippingOption.objects.get_or_create(
            name=name,
            defaults={
                "price": price,
                "days_min": days_min,
                "days_max": days_max,
                "position": position,
            },
        )
        options.append(option)
    return options
