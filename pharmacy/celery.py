"""The Celery app. Tasks live in each app's tasks.py and are found by autodiscovery.

A worker keeps its database connection from one task to the next, as gunicorn does
from one request to the next: Celery's Django fixup would otherwise close it before
and after every task (unless `CELERY_DB_REUSE_MAX` says how many tasks may share one),
and each task would pay for a new PostgreSQL connection, and PostgreSQL for a new
backend process. Each task starts and ends as Django starts and ends a request
(`close_old_connections`): a connection older than CONN_MAX_AGE, left in a
transaction, or broken by an error is dropped, and the next query checks with
CONN_HEALTH_CHECKS that the one it keeps still works (a restarted PostgreSQL).
"""

import os

from celery import Celery
from celery.signals import task_postrun, task_prerun
from django.db import close_old_connections as django_close_old_connections

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "pharmacy.settings")

app = Celery("pharmacy")
app.config_from_object("django.conf:settings", namespace="CELERY")
app.autodiscover_tasks()


@task_prerun.connect
@task_postrun.connect
def close_old_connections(sender=None, **kwargs) -> None:
    """What Django does at each request's start and end, at each task's (on a worker).

    Never for an eager task: it runs inside its caller's request or transaction.
    """
    if sender is None or getattr(sender.request, "is_eager", False):
        return
    django_close_old_connections()
