"""PostgreSQL restarted under load: 503s while it is away, never a 500, nothing half-written.

`pg_ctlcluster ... restart -m fast` ends every session at once (open transactions
roll back) and refuses connections until the server is back, as a failover or an
operator's restart does. Meanwhile patients browse the drug page, open their carts and
check out through gunicorn, and the worker is in the middle of a payment. Afterwards
the same gunicorn processes answer again (CONN_HEALTH_CHECKS replaces their dead
connections), the payment task retries with backoff and completes, and every order
holds exactly the stock and prescription units its lines say.
"""

import re
import threading
import time
from collections import Counter

import pytest
from django.contrib.sessions.models import Session
from django.db import DatabaseError, connections, transaction

from devtools import processes
from orders.models import Order, OrderStatus
from tests.fixtures.stripe import pay_at_standin, signed_event
from tests.orders.factories import baclofen_package
from tests.reliability import faults, stack
from tests.reliability.site_client import SiteClient

pytestmark = stack.MARKS

SHOPPERS = 4
ORDERS_EACH = 3
PAUSE = 0.1  # seconds between a shopper's rounds
LOAD_BEFORE = 1.0  # seconds of load before the restart
LOAD_AFTER = 3.0  # and after it


@pytest.fixture(scope="module")
def site(django_db_setup, stripe_standin, tmp_path_factory):
    folder = tmp_path_factory.mktemp("postgres-restart")
    with stack.running_stack(folder, STRIPE_API_BASE=stripe_standin.url) as running:
        yield running


@pytest.fixture(autouse=True)
def settled(site, request):
    failures = request.session.testsfailed
    yield site
    try:
        faults.ensure_services_up()
        connections.close_all()
        site.worker.wait_idle(timeout=stack.DEADLINE)
    finally:
        if request.session.testsfailed > failures:
            print(site.logs())


class Shopper(threading.Thread):
    """A signed-in patient going round: drug page, cart, and once `buying`, add and check out."""

    def __init__(
        self,
        url: str,
        browser: SiteClient,
        package_pk: int,
        *,
        buying: threading.Event,
        stop: threading.Event,
    ):
        super().__init__(daemon=True)
        self.visitor = SiteClient(url)  # the drug page as most see it: no session
        self.browser = browser
        self.package_pk = package_pk
        self.buying = buying
        self.stop = stop
        self.answers: list[tuple[str, int | str]] = []
        self.orders = 0

    def request(self, name: str, call) -> int | str:
        try:
            status = call().status
        except OSError as exc:  # gunicorn itself did not answer
            status = f"no answer ({exc})"
        self.answers.append((name, status))
        return status

    def run(self) -> None:
        while not self.stop.is_set():
            self.request("drug page", lambda: self.visitor.get("/medicines/baclofen/"))
            self.request("cart", lambda: self.browser.get("/cart/"))
            if self.buying.is_set() and self.orders < ORDERS_EACH:
                self.request(
                    "add to cart",
                    lambda: self.browser.post_form(
                        "/cart/add/", {"package": self.package_pk, "quantity": 1}
                    ),
                )
                # Even when the add failed: the cart may hold a line from before, or be
                # empty (sent back to the cart page).
                answer = self.browser.checkout()
                self.answers.append(("checkout", answer.status))
                if answer.status == 302 and "/pay/" in answer.location:
                    self.orders += 1
            self.stop.wait(PAUSE)


def test_a_postgres_restart_under_load_answers_503_not_500_and_loses_nothing(site, stripe_api):
    initial_stock = stack.stock()
    package = baclofen_package()
    paying = stack.new_order()
    payload, signature = signed_event(pay_at_standin(stripe_api, paying))
    buying, stop = threading.Event(), threading.Event()
    shoppers = [
        Shopper(
            site.url,
            SiteClient.signed_in(site.url, stack.new_patient()),
            package.pk,
            buying=buying,
            stop=stop,
        )
        for _ in range(SHOPPERS)
    ]
    adder = SiteClient.signed_in(site.url, stack.new_patient())
    added: list[int] = []
    add_to_cart = threading.Thread(
        target=lambda: added.append(
            adder.post_form("/cart/add/", {"package": package.pk, "quantity": 1}).status
        ),
        daemon=True,
    )
    site.worker.wait_idle(timeout=stack.DEADLINE)
    site_pid = site.site.pid

    restart_took: float | None = None
    try:
        try:
            with transaction.atomic():
                # The payment task waits for this lock inside the service; the restart
                # cuts both sessions, so the task fails on the database mid-transaction.
                Order.objects.select_for_update(no_key=True).get(pk=paying.pk)
                webhook = SiteClient(site.url).post_webhook(payload, signature)
                assert webhook.status == 200, webhook.text
                processes.wait_for(
                    lambda: (
                        "confirm_payment[" in site.worker.log_text()
                        and stack.waiting_on_this_connection() == 1
                    ),
                    timeout=stack.DEADLINE,
                    message="confirm_payment to wait for the order",
                    process=site.worker,
                )
                # And a request whose view is done waits to save its session (the cart).
                Session.objects.select_for_update(no_key=True).get(session_key=adder.session_key)
                add_to_cart.start()
                processes.wait_for(
                    lambda: stack.waiting_on_this_connection() == 2,
                    timeout=stack.DEADLINE,
                    message="the cart's session save to wait",
                    process=site.site,
                )
                for shopper in shoppers:
                    shopper.start()
                time.sleep(LOAD_BEFORE)
                buying.set()  # checkouts start with the restart, and go on after it
                restart_took = faults.restart_postgres()
        except DatabaseError:
            # The restart ended this session and its transaction (the locks) at the commit.
            assert restart_took is not None, "the database failed before the restart"
        finally:
            connections.close_all()  # this process's connection died with the restart too
        time.sleep(LOAD_AFTER)
    finally:
        stop.set()
        for thread in (*shoppers, add_to_cart):
            if thread.ident is not None:  # started
                thread.join(timeout=30)

    # The session could not be saved: the outage page, and the cart as it was.
    assert added == [503]
    assert "Your cart is empty" in adder.get("/cart/").text

    answers = [answer for shopper in shoppers for answer in shopper.answers]
    by_status = Counter(status for _, status in answers)
    failed = [(name, status) for name, status in answers if status not in (200, 302, 409, 503)]
    assert failed == [], by_status
    assert by_status[503] > 0, f"no request saw the restart ({restart_took:.1f} s): {by_status}"
    # The same gunicorn, with new connections: every page answers again.
    assert site.site.pid == site_pid and site.site.is_running()
    assert site.site.log_text().count("Booting worker") == 2  # none replaced
    browser = shoppers[0].browser
    assert SiteClient(site.url).get("/medicines/baclofen/").status == 200
    assert browser.get("/cart/").status == 200
    assert browser.get("/orders/").status == 200

    # The payment task failed on the database, retried with backoff and finished, once.
    stack.wait_until_dispatched(paying, site.worker)
    site.worker.wait_idle(timeout=stack.DEADLINE)
    retries = re.findall(r"confirm_payment\[[0-9a-f-]+\] retry: Retry in", site.worker.log_text())
    assert retries, site.worker.tail()
    stack.assert_paid_and_dispatched_once(paying, site.worker)

    # Whatever was cut short left nothing half-done.
    # A shopper checking out the same one-box cart again while an identical order
    # waits for payment is sent to pay that order (orders.selectors), so there are at
    # most as many orders as successful checkouts, and at least one.
    placed = sum(shopper.orders for shopper in shoppers)
    pending = Order.objects.filter(status=OrderStatus.PENDING_PAYMENT).count()
    assert 0 < pending <= placed
    stack.assert_no_half_written_orders(initial_stock=initial_stock)
