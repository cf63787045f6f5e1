"""A local stand-in for the parts of Stripe's API the site uses (Checkout Sessions,
refunds, events, signed webhooks), so development and tests run the production
payment code against it with only the API base URL changed.

Standard library only, and no Django: it runs as its own process
(`python -m devtools.stripe_standin`) or in a thread inside tests (`StandinServer`).
"""

from .objects import API_VERSION
from .server import StandinServer
from .webhooks import DEFAULT_RETRY_DELAYS, sign

__all__ = ["API_VERSION", "DEFAULT_RETRY_DELAYS", "StandinServer", "sign"]
