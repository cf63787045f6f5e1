"""Queueing a Celery task from a service, by the task's registered name.

Services sit below tasks: a task imports the service it runs, so a service that
imported the task back would close an import cycle. A service queues follow-up work
by name instead. The name is looked up in the app's registry when the transaction
commits (a name that is not registered raises there, in every test), and `.delay`
honours CELERY_TASK_ALWAYS_EAGER, so the embedded set-up runs the task in-process.

Each task a service queues declares its `name=` explicitly, so moving its module
does not change the name, the routes or the messages already waiting in a queue.
"""

from functools import cache

from django.db import transaction

from .celery import app


@cache
def _discover_tasks() -> None:
    """Import every installed app's tasks module, once, as a worker does when it starts.

    A web process imports no task module of its own (views call services, and
    services queue by name), so without this its registry would hold no task.
    `force=True` imports them now and nothing else; the worker's own start-up
    discovery also sets Django up again, which would reset a worker's logging.
    """
    app.autodiscover_tasks(force=True)


def enqueue(task_name: str, *args) -> None:
    """Queue `task_name` now (outside a transaction, or when the caller already committed)."""
    if task_name not in app.tasks:
        _discover_tasks()
    app.tasks[task_name].delay(*args)


def enqueue_on_commit(task_name: str, *args) -> None:
    """Queue `task_name` once the current transaction commits; never if it rolls back.

    `robust`: a broker outage at that moment must not fail a request whose work is
    already committed; the sweeps that look for due work queue it again.
    """
    transaction.on_commit(lambda: enqueue(task_name, *args), robust=True)
