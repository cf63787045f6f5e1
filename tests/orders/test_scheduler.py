"""run_scheduler: the embedded default's stand-in for `celery beat`."""

import logging
import os
import signal
import threading
import time
from datetime import timedelta

import pytest
from django.conf import settings as django_settings
from django.core import mail
from django.core.management import CommandError, call_command
from django.utils import timezone

from orders.models import Notification, Order, OrderStatus, Shipment
from pharmacy.celery import app as celery_app
from tests.orders.factories import (
    make_overdue,
    pay_and_release,
    place_order,
)

DELIVERY_TASKS = {
    "orders.sweeps.expire_unpaid_orders",
    "orders.shipping.refresh_shipments",
    "orders.notifications.send_refill_reminders",
}
LOGGER = "devtools.management.commands.run_scheduler"


@pytest.fixture
def delivery_schedule(settings):
    """The real schedule's delivery entries (other apps' entries are tested with them)."""
    settings.CELERY_BEAT_SCHEDULE = {
        name: entry
        for name, entry in django_settings.CELERY_BEAT_SCHEDULE.items()
        if entry["task"] in DELIVERY_TASKS
    }
    return settings.CELERY_BEAT_SCHEDULE


def test_the_beat_schedule_names_registered_delivery_tasks():
    celery_app.autodiscover_tasks(force=True)
    scheduled = {entry["task"] for entry in django_settings.CELERY_BEAT_SCHEDULE.values()}
    assert scheduled >= DELIVERY_TASKS
    assert all(name in celery_app.tasks for name in DELIVERY_TASKS)


def test_run_scheduler_once_runs_every_beat_entry(
    prescribed_patient,
    delivery_schedule,
    settings,
    django_capture_on_commit_callbacks,
    caplog,
    orders_any_day,
):
    settings.REFILL_REMINDER_DAYS_BEFORE = 7
    overdue = make_overdue(place_order(patient=prescribed_patient))
    shipped = pay_and_release(
        place_order(patient=prescribed_patient), django_capture_on_commit_callbacks
    )
    Shipment.objects.filter(order=shipped).update(created_at=timezone.now() - timedelta(hours=1))
    mail.outbox.clear()

    with (
        caplog.at_level(logging.INFO, logger=LOGGER),
        django_capture_on_commit_callbacks(execute=True),
    ):
        call_command("run_scheduler", "--once")

    assert Order.objects.get(pk=overdue.pk).status == OrderStatus.CANCELLED
    assert Order.objects.get(pk=shipped.pk).status == OrderStatus.DELIVERED
    assert Notification.objects.get(order=shipped, kind="refill").sent_at is not None
    assert len(mail.outbox) == 3  # cancelled, delivered, refill
    ran = [r.getMessage() for r in caplog.records if r.name == LOGGER]
    assert len(ran) == len(delivery_schedule)
    assert all(" ran in " in line for line in ran)


def test_a_failing_task_is_logged_and_the_others_still_run(
    prescribed_patient, settings, django_capture_on_commit_callbacks, caplog
):
    settings.CELERY_BEAT_SCHEDULE = {
        "missing": {"task": "orders.sweeps.no_such_task", "schedule": 60},
        "expire-unpaid-orders": {
            "task": "orders.sweeps.expire_unpaid_orders",
            "schedule": 300,
        },
    }
    overdue = make_overdue(place_order(patient=prescribed_patient))

    with (
        caplog.at_level(logging.INFO, logger=LOGGER),
        django_capture_on_commit_callbacks(execute=True),
        pytest.raises(CommandError, match="1 of 2 scheduled tasks failed: missing"),
    ):
        call_command("run_scheduler", "--once")

    assert Order.objects.get(pk=overdue.pk).status == OrderStatus.CANCELLED
    errors = [r.getMessage() for r in caplog.records if r.levelno == logging.ERROR]
    assert errors == ["missing: no task named orders.sweeps.no_such_task is registered"]


def test_an_exception_in_a_task_is_logged_in_one_line(db, settings, monkeypatch, caplog):
    def broken(**kwargs):
        raise RuntimeError("database on fire")

    monkeypatch.setattr("orders.services.expire_unpaid_orders", broken)
    settings.CELERY_BEAT_SCHEDULE = {
        "expire": {"task": "orders.sweeps.expire_unpaid_orders", "schedule": 300}
    }
    with caplog.at_level(logging.INFO, logger=LOGGER), pytest.raises(CommandError):
        call_command("run_scheduler", "--once")
    [error] = [r.getMessage() for r in caplog.records if r.levelno == logging.ERROR]
    assert "expire (orders.sweeps.expire_unpaid_orders) failed" in error
    assert "RuntimeError: database on fire" in error
    assert "\n" not in error


def test_run_scheduler_refuses_when_tasks_go_to_a_broker():
    from pharmacy.celery import app as celery_app

    celery_app.conf.task_always_eager = False  # tests/conftest.py puts it back
    with pytest.raises(CommandError, match="celery -A pharmacy beat"):
        call_command("run_scheduler", "--once")


def test_run_scheduler_refuses_a_schedule_it_cannot_keep(settings):
    settings.CELERY_BEAT_SCHEDULE = {
        "nightly": {"task": "orders.notifications.send_refill_reminders", "schedule": "0 3 * * *"}
    }
    with pytest.raises(CommandError, match="'nightly'"):
        call_command("run_scheduler", "--once")


def _terminate_when_installed(after: float) -> threading.Thread:
    """SIGTERM this process once the scheduler has its handler in place, never before."""

    def run():
        deadline = time.monotonic() + 10
        while signal.getsignal(signal.SIGTERM) is signal.SIG_DFL:
            if time.monotonic() > deadline:
                return
            time.sleep(0.01)
        time.sleep(after)
        os.kill(os.getpid(), signal.SIGTERM)

    thread = threading.Thread(target=run, daemon=True)
    thread.start()
    return thread


def test_run_scheduler_runs_each_entry_at_its_interval_until_sigterm(db, settings, caplog):
    settings.CELERY_BEAT_SCHEDULE = {
        "often": {"task": "orders.shipping.refresh_shipments", "schedule": 0.05},
        "rarely": {"task": "orders.notifications.send_refill_reminders", "schedule": 3600},
        "broken": {"task": "orders.sweeps.no_such_task", "schedule": 0.05},
    }
    previous = signal.getsignal(signal.SIGTERM)
    if previous is not signal.SIG_DFL:
        pytest.skip("SIGTERM is already handled in this process")
    killer = _terminate_when_installed(after=0.5)

    with caplog.at_level(logging.INFO, logger=LOGGER):
        call_command("run_scheduler", "--tick", "0.01")
    killer.join()

    lines = [r.getMessage() for r in caplog.records if r.name == LOGGER]
    assert sum(line.startswith("often ") for line in lines) >= 3
    assert sum(line.startswith("rarely ") for line in lines) == 1
    assert sum(line.startswith("broken:") for line in lines) >= 3  # failures do not stop it
    assert lines[-1] == "Scheduler stopped."
    assert signal.getsignal(signal.SIGTERM) is previous
