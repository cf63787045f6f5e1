"""Django system checks: `manage.py check --deploy` fails while the Stripe stand-in is enabled.

Registered by `OrdersConfig.ready`.
"""

from django.conf import settings
from django.core.checks import Error


def stripe_standin_disabled(app_configs, **kwargs):
    if settings.STRIPE_API_BASE or (not settings.DEBUG and settings.STRIPE_STANDIN_ALLOWED):
        return [
            Error(
                "The local Stripe stand-in is enabled (STRIPE_API_BASE or "
                "TEST_ONLY_ALLOW_STRIPE_STANDIN is set).",
                hint="Unset both in production: payments must go to Stripe itself.",
                id="orders.E001",
            )
        ]
    return []
