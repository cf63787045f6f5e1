"""Celery tasks of the orders app, by topic; importing them here registers them.

Each is thin: it takes ids, calls one service, and owns its retries. Every task has
an explicit, stable `name=` from `orders.task_names`, which services queue by and
settings route and schedule by.
"""

from . import autorefill, notifications, payments, shipping, sweeps

__all__ = ["autorefill", "notifications", "payments", "shipping", "sweeps"]
