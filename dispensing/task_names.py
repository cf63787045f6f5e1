"""The registered names of the dispensing app's Celery tasks (see orders/task_names.py)."""

EXPIRE_LOTS = "dispensing.stock.expire_lots"
