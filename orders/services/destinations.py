"""Where the pharmacy may ship: only to the states it holds an unexpired licence for.

The delivery address form says so before payment (orders.forms); checkout refuses all
the same, so no other way in (a replayed form, an address kept from before a licence
lapsed) can ship where the pharmacy may not dispense.
"""

from about.selectors import shipping_refusal


def ship_to_problem(state: str) -> str | None:
    """Why an order cannot be shipped to `state` (a two-letter code), or None."""
    return shipping_refusal(state)
