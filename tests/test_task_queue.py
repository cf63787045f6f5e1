"""Services queue tasks by name (pharmacy.queue); every name they use must be a task."""

import os
import subprocess
import sys
from pathlib import Path

import pytest

from orders import task_names
from pharmacy.celery import app
from pharmacy.queue import enqueue
from prescriptions.services import prescriptions

ORDERS_TASK_NAMES = [value for key, value in vars(task_names).items() if key.isupper()]
QUEUED_BY_SERVICES = [*ORDERS_TASK_NAMES, prescriptions.SEND_PRESCRIPTION_UPDATE]


@pytest.mark.parametrize("name", QUEUED_BY_SERVICES)
def test_every_task_a_service_queues_is_registered_under_that_name(name):
    assert name in app.tasks


def test_queueing_a_name_that_is_no_task_fails_loudly():
    with pytest.raises(KeyError):
        enqueue("orders.tasks.no_such_task", 1)


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
    result = subprocess.run(
        [sys.executable, "-c", FRESH_PROCESS],
        cwd=Path(__file__).resolve().parent.parent,
        env={**os.environ, "DJANGO_SETTINGS_MODULE": "pharmacy.settings"},
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "queued orders.payments.confirm_payment 7"
