"""Services queue tasks by name (pharmacy.queue); every name they use must be a task."""

import os
import subprocess
import sys

import pytest

from orders.services import lifecycle
from pharmacy.celery import app
from pharmacy.queue import enqueue
from prescriptions.services import prescriptions

QUEUED_BY_SERVICES = [
    lifecycle.SEND_ORDER_EMAIL,
    lifecycle.DISPATCH_ORDER,
    lifecycle.EXPIRE_CHECKOUT_SESSION,
    prescriptions.SEND_PRESCRIPTION_UPDATE,
]


@pytest.mark.parametrize("name", QUEUED_BY_SERVICES)
def test_every_task_a_service_queues_is_registered_under_that_name(name):
    assert name in app.tasks


def test_queueing_a_name_that_is_no_task_fails_loudly():
    with pytest.raises(KeyError):
        enqueue("orders.tasks.no_such_task", 1)


def test_a_fresh_web_process_finds_a_task_no_module_has_imported_yet():
    """Workers autodiscover tasks at start; a web process must find them on first use."""
    code = (
        "import django; django.setup()\n"
        "from pharmacy.celery import app\n"
        f"assert {prescriptions.SEND_PRESCRIPTION_UPDATE!r} not in app.tasks\n"
        "from pharmacy.queue import registered_task\n"
        f"print(registered_task({prescriptions.SEND_PRESCRIPTION_UPDATE!r}).name)\n"
    )
    result = subprocess.run(
        [sys.executable, "-c", code],
        capture_output=True,
        text=True,
        timeout=60,
        env={**os.environ, "DJANGO_SETTINGS_MODULE": "pharmacy.settings", "DEBUG": "1"},
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == prescriptions.SEND_PRESCRIPTION_UPDATE
