"""Services queue tasks by name (pharmacy.queue); every name they use must be a task."""

import os
import subprocess
import sys
from pathlib import Path

import pytest

from orders import task_names
from pharmacy.celery import app as celery_app
from pharmacy.queue import enqueue, registered_task
from prescriptions.services import prescriptions

ORDERS_TASK_NAMES = [value for key, value in vars(task_names).items() if key.isupper()]
QUEUED_BY_SERVICES = [*ORDERS_TASK_NAMES, prescriptions.SEND_PRESCRIPTION_UPDATE]


@pytest.mark.parametrize("name", QUEUED_BY_SERVICES)
def test_every_task_a_service_queues_is_registered_under_that_name(name):
    assert registered_task(name).name == name


def test_queueing_a_name_that_is_no_task_fails_loudly():
    with pytest.raises(KeyError):
        enqueue("orders.tasks.no_such_task", 1)


def test_no_task_of_the_site_stores_a_result_nobody_reads():
    """Services record what a task did in the database; a stored return value would be a
    Redis write per task for nobody. A caller that waits for one asks for it per call."""
    registered_task(task_names.CONFIRM_PAYMENT)  # every app's tasks module imported
    ours = [task for name, task in celery_app.tasks.items() if not name.startswith("celery.")]
    assert len(ours) > 10
    assert [task.name for task in ours if not task.ignore_result] == []


def in_a_fresh_process(code: str) -> str:
    """What `code` prints in a new Python process that has only set Django up."""
    result = subprocess.run(
        [sys.executable, "-c", code],
        cwd=Path(__file__).resolve().parent.parent,
        env={**os.environ, "DJANGO_SETTINGS_MODULE": "pharmacy.settings"},
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 0, result.stderr
    return result.stdout.strip()


WARMED_UP_PROCESS = """
import django
django.setup()
from django.template.base import Template
from pharmacy.celery import email_template_names, load_before_forking
names = email_template_names()
if {warm}:
    load_before_forking()
compiled = []
compile_nodelist = Template.compile_nodelist
Template.compile_nodelist = lambda self: compiled.append(self.name) or compile_nodelist(self)
from django.template.loader import get_template
for name in names:
    get_template(name)
print(len(names), len(compiled))
"""


def test_a_worker_compiles_the_email_templates_before_forking_its_pool():
    """Each pool process starts with the templates its main process compiled: its first
    email costs what the others do."""
    count, compiled_after_warm_up = in_a_fresh_process(WARMED_UP_PROCESS.format(warm=True)).split()
    assert int(count) >= 10
    assert compiled_after_warm_up == "0"
    _, compiled_cold = in_a_fresh_process(WARMED_UP_PROCESS.format(warm=False)).split()
    assert compiled_cold == count


FRESH_PROCESS = """
import django
django.setup()
from celery.app.task import Task
Task.delay = lambda self, *args: print("queued", self.name, *args)
from pharmacy.queue import enqueue
enqueue("orders.payments.confirm_payment", 7)
"""


def test_a_web_process_that_imported_no_task_module_can_queue_by_name():
    """gunicorn imports views and services only; the task registry must fill itself."""
    assert in_a_fresh_process(FRESH_PROCESS) == "queued orders.payments.confirm_payment 7"


FRESH_PROCESS_THREADS = """
import threading
import django
django.setup()
from celery.app.task import Task
queued = []
Task.delay = lambda self, *args: queued.append(self.name)
from pharmacy.queue import enqueue
names = [
    "orders.payments.process_payment_event",
    "orders.payments.confirm_payment",
    "orders.notifications.send_order_email",
    "prescriptions.tasks.send_prescription_update",
] * 6
failed = []
def queue(name):
    try:
        enqueue(name, 1)
    except Exception as exc:
        failed.append(repr(exc))
threads = [threading.Thread(target=queue, args=(name,)) for name in names]
for thread in threads:
    thread.start()
for thread in threads:
    thread.join()
print(len(queued), len(failed), failed[:1])
"""


def test_the_threads_of_a_fresh_web_process_all_find_their_tasks():
    """gunicorn's threads queue at once on the first requests: none may see the task
    modules half imported (each thread's task was "never registered" before the lock)."""
    assert in_a_fresh_process(FRESH_PROCESS_THREADS) == "24 0 []"
