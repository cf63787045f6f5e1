"""The site's URLs plus the Stripe webhook, for tests that run before the lead mounts it."""

from django.urls import path

from orders.webhooks import stripe_webhook
from pharmacy.urls import handler500
from pharmacy.urls import urlpatterns as site_urlpatterns

__all__ = ["handler500", "urlpatterns"]

urlpatterns = [
    path("payments/stripe/webhook/", stripe_webhook, name="stripe-webhook"),
    *site_urlpatterns,
]
