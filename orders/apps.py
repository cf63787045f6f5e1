from django.apps import AppConfig
from django.core.checks import Tags, register

from .system_checks import stripe_standin_disabled


class OrdersConfig(AppConfig):
    name = "orders"
    verbose_name = "Orders"

    def ready(self):
        register(stripe_standin_disabled, Tags.security, deploy=True)
