"""Celery tasks of the orders app, by topic; importing them here registers them."""

from . import delivery, payments

__all__ = ["delivery", "payments"]
