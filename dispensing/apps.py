from django.apps import AppConfig

from pharmacy.page_versions import watch


class DispensingConfig(AppConfig):
    name = "dispensing"
    verbose_name = "Dispensing"

    def ready(self):
        # Orders knows no dispensing: what dispensing adds to a refund, to the
        # courier's booking, to the dispatch task and to the sweep of lost work is
        # registered at orders' extension point.
        from orders.extensions import (
            register_checked_order_send,
            register_dispatch_hold,
            register_lost_work,
            register_stock_return,
        )

        from .services.counselling import counselling_offers_resume
        from .services.holds import dispatch_hold_reasons
        from .services.returns import order_boxes_return
        from .tasks import send_counselling_offers

        register_stock_return(order_boxes_return)
        register_dispatch_hold(dispatch_hold_reasons)
        register_checked_order_send(send_counselling_offers)
        register_lost_work(counselling_offers_resume)
        # A parcel held by a recall shows on the patient's order page (orders/page_copy.py).
        watch(self.get_model("DispatchHold"))
