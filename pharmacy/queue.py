"""Queueing a Celery task from a service, by the task's registered name.

Services sit below tasks: a task imports the service it runs, so a service that
imported the task back would close an import cycle. A service queues follow-up work
by name instead. The name is looked up in the app's registry when the transaction
commits (a name that is not registered raises there, in every test), and `.delay`
honours CELERY_TASK_ALWAYS_EAGER, so the embedded set-up runs the task in-process.

Each task a service queues declares its `name=` explicitly, so moving its module
does not change the name, the routes or the messages already waiting in a queue.
"""

import threading

from django.db import transaction

from .celery import app

_discovery = threading.Lock()


def registered_task(task_name: str):
    """The task registered as `task_name`, importing every app's tasks module first if
    the registry does not hold it yet, as a worker does when it starts.

    A web process imports no task module of its own (views call services, and
    services queue by name), so its registry starts empty. `force=True` imports the
    modules now and nothing else; the worker's own start-up discovery also sets Django
    up again, which would reset a worker's logging. The lock makes the threads of one
    process wait for the first one's discovery: without it, a second thread saw the
    modules half imported and its task "never registered".
    """
    if task_name not in app.tasks:
        with _discovery:
            if task_name not in app.tasks:
                app.autodiscover_tasks(force=True)
    return app.tasks[task_name]


def enqueue(task_name: str, *args) -> None:
    """Queue `task_name` now (outside a transaction, or when the caller already committed)."""
    registered_task(task_name).delay(*args)


def enqueue_on_commit(task_name: str, *args) -> None:
    """Queue `task_name` once the current transaction commits; never if it rolls back.

    `robust`: a broker outage at that moment must not fail a request whose work is
    already committed; the sweeps that look for due work queue it again.
    """
    transaction.on_commit(lambda: enqueue(task_name, *args), robust=True)
