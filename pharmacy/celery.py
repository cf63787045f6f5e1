"""The Celery app. Tasks live in each app's tasks.py and are found by autodiscovery.

A worker keeps its database connection from one task to the next, as gunicorn does
from one request to the next: Celery's Django fixup would otherwise close it before
and after every task (unless `CELERY_DB_REUSE_MAX` says how many tasks may share one),
and each task would pay for a new PostgreSQL connection, and PostgreSQL for a new
backend process. Each task starts and ends as Django starts and ends a request
(`close_old_connections`): a connection older than CONN_MAX_AGE, left in a
transaction, or broken by an error is dropped, and the next query checks with
CONN_HEALTH_CHECKS that the one it keeps still works (a restarted PostgreSQL).

The worker's main process also loads, before it forks its pool, what every task
would otherwise load in each pool process on first use: the URL configuration (every
email links to the site) and the email templates.
"""

import os
from pathlib import Path

from celery import Celery
from celery.signals import task_postrun, task_prerun, worker_init
from django.db import close_old_connections as django_close_old_connections
from django.template.loader import get_template
from django.urls import get_resolver

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "pharmacy.settings")

app = Celery("pharmacy")
app.config_from_object("django.conf:settings", namespace="CELERY")
app.autodiscover_tasks()

TEMPLATES = Path(__file__).resolve().parent.parent / "templates"


@task_prerun.connect
@task_postrun.connect
def close_old_connections(sender=None, **kwargs) -> None:
    """What Django does at each request's start and end, at each task's (on a worker).

    Never for an eager task: it runs inside its caller's request or transaction.
    """
    if sender is None or getattr(sender.request, "is_eager", False):
        return
    django_close_old_connections()


def email_template_names() -> list[str]:
    """Every email's template and the fragments they include (`<app>/email/...`)."""
    return sorted(str(path.relative_to(TEMPLATES)) for path in TEMPLATES.glob("*/email/**/*.txt"))


@worker_init.connect
def load_before_forking(**kwargs) -> None:
    """Import the URLs and compile the email templates once, in the main process: each
    pool process starts with them (a process that replaces one too), rather than the
    first tasks of each paying for them."""
    get_resolver().reverse_dict  # noqa: B018 - imports every URLconf and fills the resolver
    for name in email_template_names():
        get_template(name)
