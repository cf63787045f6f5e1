from django.apps import AppConfig

from pharmacy.page_versions import watch


class DispensingConfig(AppConfig):
    name = "dispensing"
    verbose_name = "Dispensing"

    def ready(self):
        # Orders knows no dispensing: what dispensing adds to a refund and to the
        # courier's booking is registered at orders' extension point.
        from orders.extensions import register_dispatch_hold, register_stock_return

        from .services.holds import dispatch_hold_reasons
        from .services.returns import order_boxes_return

        register_stock_return(order_boxes_return)
        register_dispatch_hold(dispatch_hold_reasons)
        # A parcel held by a recall shows on the patient's order page (orders/page_copy.py).
        watch(self.get_model("DispatchHold"))
