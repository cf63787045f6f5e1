"""Services queue tasks by name (pharmacy.queue); every name they use must be a task."""

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
