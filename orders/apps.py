from django.apps import AppConfig
from django.core.checks import Tags, register
from django.db.models.signals import post_delete, post_save

from pharmacy.page_versions import watch

from .shipping_copy import MODEL, options_changed
from .system_checks import stripe_standin_disabled


class OrdersConfig(AppConfig):
    name = "orders"
    verbose_name = "Orders"

    def ready(self):
        register(stripe_standin_disabled, Tags.security, deploy=True)
        post_save.connect(options_changed, sender=MODEL, dispatch_uid=__name__)
        post_delete.connect(options_changed, sender=MODEL, dispatch_uid=__name__)
        # What the patient's own pages show (orders/page_copy.py).
        for name in ("Order", "OrderLine", "OrderStatusChange", "Shipment", "DeliveryAddress"):
            watch(self.get_model(name))
