"""The registered names of the orders app's Celery tasks, in one place.

Services queue follow-up work by these names (`pharmacy.queue`), so no service
imports a task; the tasks register under them (`name=`), and settings route and
schedule them. A name is part of the messages waiting in a queue: moving a task's
module does not change it, and renaming one means draining its queue first.
"""

# orders/tasks/payments.py (queue "payments")
CONFIRM_PAYMENT = "orders.payments.confirm_payment"
PROCESS_PAYMENT_EVENT = "orders.payments.process_payment_event"
EXPIRE_CHECKOUT_SESSION = "orders.payments.expire_checkout_session"
SETTLE_ORDER = "orders.payments.settle_order"
RELEASE_AUTHORISATION = "orders.payments.release_authorisation"
# Queued by the prescriptions app by name, from settings.PRESCRIPTION_DECISION_TASKS
# and settings.PRESCRIPTION_ARRIVAL_TASKS.
PRESCRIPTION_DECIDED = "orders.payments.prescription_decided"
PRESCRIPTION_ARRIVED = "orders.payments.prescription_arrived"
# orders/tasks/shipping.py
DISPATCH_ORDER = "orders.shipping.dispatch_order"
REFRESH_SHIPMENTS = "orders.shipping.refresh_shipments"
# orders/tasks/notifications.py
SEND_ORDER_EMAIL = "orders.notifications.send_order_email"
SEND_REFILL_REMINDERS = "orders.notifications.send_refill_reminders"
# orders/tasks/sweeps.py (the two payment sweeps on queue "payments")
EXPIRE_UNPAID_ORDERS = "orders.sweeps.expire_unpaid_orders"
RESUME_LOST_WORK = "orders.sweeps.resume_lost_work"
RETRY_UNPROCESSED_EVENTS = "orders.sweeps.retry_unprocessed_events"
RECONCILE_PAYMENTS = "orders.sweeps.reconcile_payments"
SETTLE_AUTHORISED_ORDERS = "orders.sweeps.settle_authorised_orders"
# orders/tasks/autorefill.py
RUN_AUTO_REFILLS = "orders.autorefill.run_auto_refills"
RUN_AUTO_REFILL_CYCLE = "orders.autorefill.run_cycle"
SEND_AUTO_REFILL_EMAIL = "orders.autorefill.send_email"
