"""Redis stopped under a running site: requests fail whole or succeed whole, nothing is lost.

Redis is the cache (rate limits, the write-through session cache, drug pages), the
Celery broker and its result backend. With it gone, a request either does all its
work or answers the 503 page having changed nothing; a payment webhook is stored and
its task sent once Redis is back (or refused, so that Stripe sends it again); sign-in
is refused, because the rate limits cannot be counted. Redis comes back empty (it
keeps nothing on disk), and the site, the worker and the sweeps carry on from the
database.

gunicorn, the worker and the Stripe stand-in (delivering its webhooks to gunicorn, as
Stripe does) run for the whole module; each test stops Redis for a few seconds.
"""

import re
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import timedelta

import pytest
from django.conf import settings
from django.contrib.auth.hashers import PBKDF2PasswordHasher
from django.contrib.sessions.models import Session
from django.db import transaction
from django.utils import timezone

from catalog.models import Package
from devtools import processes
from orders.models import Notification, Order, OrderStatus, PaymentEvent
from orders.payments.events import RETRY_AFTER
from orders.services.sweeps import LOST_TASK_AFTER
from orders.tasks.sweeps import resume_lost_work, retry_unprocessed_events
from prescriptions.models import Prescription
from tests.factories import PASSWORD
from tests.fixtures.stripe import pay_on_hosted_page
from tests.orders.factories import baclofen_package
from tests.reliability import faults, stack
from tests.reliability.site_client import WEBHOOK_PATH, Answer, SiteClient

pytestmark = stack.MARKS


@pytest.fixture(scope="module")
def site(django_db_setup, tmp_path_factory):
    """The stand-in sends its webhooks to gunicorn, whose port is chosen first."""
    folder = tmp_path_factory.mktemp("redis-outage")
    port = processes.free_port()
    with (
        processes.stripe_standin_process(
            webhook_url=f"http://127.0.0.1:{port}{WEBHOOK_PATH}",
            webhook_secret=settings.STRIPE_WEBHOOK_SECRET,
            log_dir=folder,
        ) as standin,
        stack.running_stack(
            folder, port=port, STRIPE_API_BASE=standin.url, SITE_URL=f"http://127.0.0.1:{port}"
        ) as running,
    ):
        running.standin = standin
        yield running


@pytest.fixture(autouse=True)
def settled(site, request):
    """The worker is back on the broker and idle before the next test or the flush."""
    failures = request.session.testsfailed
    yield site
    try:
        faults.ensure_services_up()
        worker_consuming(site.worker)
    finally:
        if request.session.testsfailed > failures:
            print(site.logs())


def worker_consuming(worker: processes.CeleryWorker) -> None:
    """Wait until the worker has reconnected and takes tasks again (a no-op task is taken)."""
    retry_unprocessed_events.delay()
    worker.wait_idle(timeout=stack.DEADLINE)


@contextmanager
def outage(site: stack.Stack) -> Iterator[None]:
    """Redis down for the block, with the worker idle when it goes.

    A task in flight at that moment is the subject of its own test below.
    """
    site.worker.wait_idle(timeout=stack.DEADLINE)
    with faults.redis_stopped():
        yield


def assert_outage_page(answer: Answer) -> None:
    assert answer.status == 503, (answer.status, answer.text[:500])
    assert answer.headers.get("retry-after")
    assert "briefly unavailable" in answer.text


def test_a_checkout_while_redis_is_down_answers_503_and_changes_nothing(site):
    patient = stack.new_patient()
    package = baclofen_package()
    browser = SiteClient.signed_in(site.url, patient, cart={package.pk: 1})
    before = stack.stock()

    with outage(site):
        assert_outage_page(browser.checkout())
        assert_outage_page(browser.get("/cart/"))

    assert not Order.objects.filter(patient=patient).exists()
    assert stack.stock() == before
    assert Prescription.objects.get(patient=patient).units_used == 0
    # The session was kept in the database: the same browser, cart and all, now buys.
    retried = browser.checkout()
    assert retried.status == 302, retried.text[:500]
    assert retried.location.startswith(site.standin.url)
    order = Order.objects.get(patient=patient)
    assert (order.status, stack.stock(), stack.units_used(order)) == (
        OrderStatus.PENDING_PAYMENT,
        before - 1,
        10,
    )


def test_redis_lost_in_the_middle_of_a_checkout_never_answers_503_for_a_placed_order(site):
    """The order commits, then the cache cannot be told: the patient still gets the order.

    The 503 page says nothing was changed; answering it for an order already placed
    would send the patient back to buy again while the first order holds the stock.
    """
    patient = stack.new_patient()
    package = baclofen_package()
    browser = SiteClient.signed_in(site.url, patient, cart={package.pk: 1})
    before = stack.stock()
    answers: list[Answer] = []
    checkout = threading.Thread(target=lambda: answers.append(browser.checkout()), daemon=True)
    site.worker.wait_idle(timeout=stack.DEADLINE)

    with faults.fault_lock("Redis stopped mid-checkout"):
        try:
            with transaction.atomic():
                # The checkout's stock UPDATE waits for this, past the session and cart reads.
                Package.objects.select_for_update(no_key=True).get(pk=package.pk)
                checkout.start()
                processes.wait_for(
                    stack.waiting_on_this_connection,
                    timeout=stack.DEADLINE,
                    message="the checkout to wait for the package row",
                    process=site.site,
                )
                faults.stop_redis()
            checkout.join(timeout=60)
        finally:
            faults.start_redis()

    [answer] = answers
    order = Order.objects.filter(patient=patient).first()
    if answer.status == 503:
        assert order is None, f"503 answered for order {order.number}, placed and holding stock"
        assert stack.stock() == before
    else:
        assert answer.status == 302, (answer.status, answer.text[:500])
        assert answer.location.startswith(site.standin.url)
        assert order is not None
        assert (stack.stock(), stack.units_used(order)) == (before - 1, 10)
        assert "Your cart is empty" in browser.get("/cart/").text  # saved with the order


def delivery_status(standin: processes.ServiceProcess, event_id: str) -> str | None:
    """The stand-in's first delivery answer for the event ("200", "503", "error ..."), if any."""
    found = re.search(rf"webhook {re.escape(event_id)} \S+ attempt 1 -> (\S+)", standin.log_text())
    return found.group(1) if found else None


def checked_out(site: stack.Stack) -> tuple[Order, str]:
    """A new patient's order waiting for payment, and its hosted payment page."""
    patient = stack.new_patient()
    browser = SiteClient.signed_in(site.url, patient, cart={baclofen_package().pk: 1})
    answer = browser.checkout()
    assert answer.status == 302, answer.text[:500]
    return Order.objects.get(patient=patient), answer.location


def test_a_payment_webhook_while_redis_is_down_is_kept_and_the_order_confirmed_after(site):
    order, hosted_page = checked_out(site)

    with outage(site):
        assert pay_on_hosted_page(hosted_page) == 303

        def delivered() -> str | None:
            return (
                PaymentEvent.objects.filter(order=order).values_list("event_id", flat=True).first()
            )

        event_id = processes.wait_for(
            delivered, timeout=stack.DEADLINE, message="the webhook", process=site.standin
        )
        first_answer = processes.wait_for(
            lambda: delivery_status(site.standin, event_id),
            timeout=stack.DEADLINE,
            message="the stand-in's delivery record",
            process=site.standin,
        )
        # Stored and acknowledged (Stripe will not send it again); its task could not be
        # sent, so nothing has run yet.
        assert first_answer.startswith("2"), first_answer
        event = PaymentEvent.objects.get(event_id=event_id)
        assert event.processed_at is None
        order.refresh_from_db()
        assert order.status == OrderStatus.PENDING_PAYMENT

    # The beat's sweep takes events left for RETRY_AFTER; the wait is skipped, the sweep
    # runs on the worker.
    PaymentEvent.objects.filter(pk=event.pk).update(
        received_at=timezone.now() - RETRY_AFTER - timedelta(seconds=1)
    )
    retry_unprocessed_events.delay()
    stack.wait_until_dispatched(order, site.worker)
    site.worker.wait_idle(timeout=stack.DEADLINE)
    stack.assert_paid_and_dispatched_once(order, site.worker)
    event.refresh_from_db()
    assert event.outcome == "paid"


def test_redis_lost_while_the_payment_task_runs_loses_nothing_and_repeats_nothing(site):
    """The task commits with Redis gone: its follow-ups cannot be sent, its ack is lost.

    Either the worker rides out the outage, or it exits with a failure status (kombu
    can fail while putting its unacknowledged messages back on a dead connection), and
    its supervisor (systemd's Restart=on-failure) starts it again; here the test does.
    The sweeps then send what was lost, and nothing happens twice.
    """
    order, hosted_page = checked_out(site)
    site.worker.wait_idle(timeout=stack.DEADLINE)
    worker = site.worker
    received = worker.log_text().count("confirm_payment[")

    with faults.fault_lock("Redis stopped while a task runs"):
        try:
            with transaction.atomic():
                # confirm_payment waits for the order row, inside the service.
                Order.objects.select_for_update(no_key=True).get(pk=order.pk)
                assert pay_on_hosted_page(hosted_page) == 303
                processes.wait_for(
                    lambda: (
                        worker.log_text().count("confirm_payment[") > received
                        and stack.waiting_on_this_connection()
                    ),
                    timeout=stack.DEADLINE,
                    message="confirm_payment to wait for the order",
                    process=worker,
                )
                faults.stop_redis()

            def settled_without_redis() -> bool:
                order.refresh_from_db()
                return order.status != OrderStatus.PENDING_PAYMENT or not worker.is_running()

            processes.wait_for(
                settled_without_redis,
                timeout=stack.DEADLINE,
                message="the task to finish without Redis",
                process=worker,
            )
        finally:
            faults.start_redis()

    # Back on the broker, or gone with a failure status for its supervisor to restart.
    retry_unprocessed_events.delay()
    processes.wait_for(
        lambda: not worker.is_running() or stack.broker_idle(worker.broker_url),
        timeout=stack.DEADLINE,
        message="the worker to take tasks again or exit",
        process=worker,
    )
    if not worker.is_running():
        assert worker.popen.returncode != 0, "exited as if all were well"
        site.replace_worker()
    worker_consuming(site.worker)
    # The beat's sweeps, without their waits: lost payment tasks, then lost follow-ups.
    long_ago = timezone.now() - max(RETRY_AFTER, LOST_TASK_AFTER) - timedelta(seconds=1)
    PaymentEvent.objects.filter(order=order).update(received_at=long_ago)
    retry_unprocessed_events.delay()
    processes.wait_for(
        lambda: PaymentEvent.objects.filter(order=order, processed_at__isnull=False).exists(),
        timeout=stack.DEADLINE,
        message="the payment to be processed",
        process=site.worker,
    )
    site.worker.wait_idle(timeout=stack.DEADLINE)
    Order.objects.filter(pk=order.pk).update(paid_at=long_ago)
    Notification.objects.filter(order=order).update(created_at=long_ago)
    resume_lost_work.delay()
    stack.wait_until_dispatched(order, site.worker)
    site.worker.wait_idle(timeout=stack.DEADLINE)
    stack.assert_paid_and_dispatched_once(order, *site.workers)
    assert PaymentEvent.objects.get(order=order).outcome == "paid"


def test_sign_in_fails_closed_while_redis_is_down(site):
    patient = stack.new_patient()
    # The tests' fast hasher is not among gunicorn's (production's): store a hash it checks.
    hasher = PBKDF2PasswordHasher()
    patient.password = hasher.encode(PASSWORD, hasher.salt(), iterations=1000)
    patient.save(update_fields=["password"])
    browser = SiteClient(site.url)

    with outage(site):
        answer = browser.sign_in(patient.email, PASSWORD)
        assert answer.status != 302, "signed in with no rate limit to count the attempt"
        assert_outage_page(answer)
        assert browser.session_key is None

    sessions = [s.get_decoded().get("_auth_user_id") for s in Session.objects.all()]
    assert str(patient.pk) not in sessions
    assert browser.get("/account/").status == 302  # to the sign-in page
    patient.refresh_from_db()
    assert patient.last_login is None
    # With Redis back the same password works: the refusal was the outage's.
    assert browser.sign_in(patient.email, PASSWORD).status == 302
    assert browser.get("/account/").status == 200
