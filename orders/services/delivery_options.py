"""Which shipping option an order is placed with: the patient's choice, if still offered.

The checkout form offers only active options; checkout reads the choice again inside
its transaction, so an option turned off meanwhile (or a forged form naming one that
is off) is refused with the reason, never silently swapped for another.
"""

from ..delivery import NOT_OFFERED
from ..models import ShippingOption

NO_OPTIONS = (
    "The pharmacy offers no delivery option at the moment, so no order can be placed. "
    "Please contact the pharmacy."
)


def chosen_shipping_option(option_id: int | None) -> tuple[ShippingOption | None, str]:
    """(the option, "") or (None, why not): `option_id` None means the first offered."""
    if option_id is None:
        option = ShippingOption.objects.default()
        return (option, "") if option else (None, NO_OPTIONS)
    option = ShippingOption.objects.active().filter(pk=option_id).first()
    return (option, "") if option else (None, NOT_OFFERED)
