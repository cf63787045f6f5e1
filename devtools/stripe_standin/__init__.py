"""A local stand-in for the parts of Stripe's API the site uses (Checkout Sessions,
PaymentIntents with manual capture, refunds, events, signed webhooks), so development
and tests run the production payment code against it with only the API base URL changed.

A session created with `payment_intent_data[capture_method]=manual` only authorises
the card when paid: its PaymentIntent is `requires_capture` until
`POST /v1/payment_intents/<id>/capture` or `/cancel`. Stripe cancels a hold left
uncaptured for 7 days; here that lapse happens when the clock passes it
(`StandinServer.advance_clock`) or at once with `StandinServer.lapse_authorization(id)`
or `POST /_standin/payment_intents/<id>/lapse` (no API key, like the other
`/_standin/` test helpers: `clock/advance`, `events/<id>`, `events/<id>/resend`).

The hosted page's *Decline* fails an attempt as Stripe's declining test card does
(`payment_intent.payment_failed`, the session stays open). Saved cards (`cards.py`):
Customers, Checkout `mode=setup` and `setup_future_usage`, SetupIntents,
PaymentMethods, and off-session PaymentIntents with their failures.

Standard library only, and no Django: it runs as its own process
(`python -m devtools.stripe_standin`) or in a thread inside tests (`StandinServer`).
"""

from .objects import API_VERSION
from .server import StandinServer
from .webhooks import DEFAULT_RETRY_DELAYS, sign

__all__ = ["API_VERSION", "DEFAULT_RETRY_DELAYS", "StandinServer", "sign"]
