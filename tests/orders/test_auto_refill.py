"""Auto-refill, end to end against the Stripe stand-in over HTTP: the patient turns it on,
saves a card on Stripe's setup page, and the hourly task places the order through
checkout and charges the saved card off-session, once. A refused card leaves a payable
order and an email; turning it off, or a hold after a profile change, stops it; the
review refusing an early refill emails the patient."""

from datetime import timedelta
from decimal import Decimal

import pytest
from django.core import mail
from django.utils import timezone

from orders.models import AutoRefill, AutoRefillCycle, Order, OrderStatus
from orders.payments import refills
from orders.payments.cards import card_setup_session_for
from orders.payments.reconciliation import find_discrepancies
from orders.services.autorefill import auto_refill_set
from orders.services.reminders import due_orders
from orders.supply import run_out_date
from orders.tasks.autorefill import run_auto_refills, run_cycle
from tests.fixtures.stripe import pay_on_hosted_page, standin_event
from tests.orders.factories import baclofen_package, make_address, receive


@pytest.fixture
def prescription(prescribed_patient):
    make_address(prescribed_patient)
    return prescribed_patient.prescriptions.get()


def turn_on(patient, prescription, stripe_api, *, card: str = "save") -> AutoRefill:
    """Turned on, and a card saved on the stand-in's setup page (as the patient's browser
    does), its `checkout.session.completed` received by the site."""
    auto_refill = auto_refill_set(
        patient=patient,
        prescription_id=prescription.pk,
        package_id=baclofen_package().pk,
        quantity=1,
    )
    assert auto_refill.needs_card
    url = card_setup_session_for(auto_refill_id=auto_refill.pk)
    assert pay_on_hosted_page(url, action=card) == 303
    auto_refill.refresh_from_db()
    completed = standin_event(
        stripe_api, "checkout.session.completed", id=auto_refill.stripe_setup_session_id
    )
    assert receive(completed) == "card saved for auto-refill"
    auto_refill.refresh_from_db()
    assert auto_refill.is_active
    return auto_refill


def due_today(auto_refill: AutoRefill) -> None:
    AutoRefill.objects.filter(pk=auto_refill.pk).update(next_run_on=timezone.localdate())


def run(capture) -> None:
    with capture(execute=True):
        run_auto_refills()


def charges_of(stripe_api, order: Order, type: str = "payment_intent.succeeded") -> list[dict]:
    events = stripe_api.v1.events.list({"type": type, "limit": 100}).data
    return [
        e
        for e in events
        if e.to_dict()["data"]["object"]["metadata"].get("order_number") == order.number
    ]


def subjects() -> list[str]:
    return [message.subject for message in mail.outbox]


def test_turning_on_sends_the_patient_to_stripes_setup_page(client, prescription, stripe_api):
    client.force_login(prescription.patient)
    response = client.post(
        f"/auto-refills/{prescription.pk}/",
        {"package": baclofen_package().pk, "quantity": 1},
    )

    assert response.status_code == 302
    assert "/pay/cs_test_" in response["Location"]
    auto_refill = AutoRefill.objects.get(prescription=prescription)
    session = stripe_api.v1.checkout.sessions.retrieve(auto_refill.stripe_setup_session_id)
    assert (session.mode, session.customer) == ("setup", auto_refill.stripe_customer_id)
    page = client.get(f"/auto-refills/{prescription.pk}/?card=saved").content.decode()
    assert "Saving your card" in page
    assert "cus_" not in page and "pm_" not in page


def test_the_notice_comes_days_before_with_skip_and_change_links(
    prescription, stripe_api, capture, standard_shipping
):
    standard_shipping.price = Decimal("4.95")
    standard_shipping.save()
    auto_refill = turn_on(prescription.patient, prescription, stripe_api)
    day = timezone.localdate() + timedelta(days=2)
    AutoRefill.objects.filter(pk=auto_refill.pk).update(next_run_on=day)
    mail.outbox.clear()

    run(capture)
    run(capture)

    [notice] = mail.outbox
    assert notice.subject.startswith("Your auto-refill of baclofen is on ")
    assert f"/auto-refills/{prescription.pk}/#skip" in notice.body
    assert "Visa ending 4242" in notice.body
    # The amount the card will be charged: the packages and the delivery, as checkout adds.
    charged = auto_refill.package.price * auto_refill.quantity + Decimal("4.95")
    assert f"${charged} at today's prices, Standard delivery included" in notice.body
    assert notice.subject.endswith(" - Northside Pharmacy")
    assert not Order.objects.filter(patient=prescription.patient).exists()


def test_auto_refill_is_charged_once_when_the_task_runs_twice(prescription, stripe_api, capture):
    auto_refill = turn_on(prescription.patient, prescription, stripe_api)
    due_today(auto_refill)

    run(capture)
    run(capture)
    cycle = AutoRefillCycle.objects.get(auto_refill=auto_refill, run_on=timezone.localdate())
    with capture(execute=True):
        assert run_cycle(cycle.pk) == "order already paid"

    [order] = Order.objects.filter(patient=prescription.patient)
    assert order.status == OrderStatus.PAID  # and waits for the pharmacist's final check
    assert cycle.order_id == order.pk
    assert len(charges_of(stripe_api, order)) == 1
    assert len([s for s in subjects() if s.startswith(f"Receipt for order {order.number}")]) == 1
    auto_refill.refresh_from_db()
    assert auto_refill.next_run_on == timezone.localdate() + timedelta(days=3)  # 10 pills, 3 a day


def test_a_worker_dying_after_the_charge_charges_once(
    prescription, stripe_api, capture, monkeypatch
):
    auto_refill = turn_on(prescription.patient, prescription, stripe_api)
    due_today(auto_refill)
    real_mark_paid = refills.order_mark_paid

    def die(**kwargs):
        raise SystemExit("worker killed between Stripe's answer and the database")

    monkeypatch.setattr(refills, "order_mark_paid", die)
    with pytest.raises(SystemExit):
        run(capture)
    order = Order.objects.get(patient=prescription.patient)
    assert order.status == OrderStatus.PENDING_PAYMENT
    monkeypatch.setattr(refills, "order_mark_paid", real_mark_paid)

    cycle = AutoRefillCycle.objects.get(auto_refill=auto_refill, run_on=timezone.localdate())
    AutoRefillCycle.objects.filter(pk=cycle.pk).update(
        created_at=timezone.now() - timedelta(hours=1)
    )
    run(capture)  # the hourly run finds the order placed and not charged

    order.refresh_from_db()
    assert order.status == OrderStatus.PAID
    assert len(charges_of(stripe_api, order)) == 1, "Stripe replayed its answer: one charge"
    assert Order.objects.filter(patient=prescription.patient).count() == 1


@pytest.mark.parametrize(
    ("card", "reason"),
    [
        ("save_declining", "Your card was declined."),
        (
            "save_authenticating",
            "Your card was declined. This transaction requires authentication.",
        ),
    ],
)
def test_a_refused_saved_card_leaves_a_payable_order_and_an_email(
    client, prescription, stripe_api, capture, card, reason
):
    auto_refill = turn_on(prescription.patient, prescription, stripe_api, card=card)
    due_today(auto_refill)
    mail.outbox.clear()

    run(capture)

    order = Order.objects.get(patient=prescription.patient)
    assert order.status == OrderStatus.PENDING_PAYMENT and order.is_payable
    assert order.payment_due_by > timezone.now() + timedelta(hours=70)
    assert order.payment_error == reason
    [email] = mail.outbox
    assert email.subject.startswith(f"Order {order.number}: your card was declined")
    assert order.get_absolute_url() in email.body and '"Pay now"' in email.body
    client.force_login(prescription.patient)
    page = client.get(order.get_absolute_url()).content.decode()
    assert "You can pay again." in page and f"Pay now (${order.total})" in page
    # Stripe's own event about the same attempt changes nothing more.
    failed = standin_event(
        stripe_api, "payment_intent.payment_failed", id=order.stripe_payment_intent
    )
    with capture(execute=True):
        assert receive(failed) == "card declined: already recorded"
    run(capture)
    assert len(charges_of(stripe_api, order, "payment_intent.payment_failed")) == 1
    assert len([s for s in subjects() if "your card was declined" in s]) == 1


def test_turning_it_off_stops_it(client, prescription, stripe_api, capture):
    auto_refill = turn_on(prescription.patient, prescription, stripe_api)
    due_today(auto_refill)
    client.force_login(prescription.patient)

    response = client.post(f"/auto-refills/{prescription.pk}/stop/")
    run(capture)

    assert response.status_code == 302
    auto_refill.refresh_from_db()
    assert auto_refill.is_stopped and auto_refill.next_run_on is None
    assert not Order.objects.filter(patient=prescription.patient).exists()
    assert auto_refill.changes.last().note == "Turned off by the patient"
    assert auto_refill.changes.last().actor == prescription.patient


def test_a_hold_after_a_profile_change_stops_it_with_the_reason(prescription, stripe_api, capture):
    auto_refill = turn_on(prescription.patient, prescription, stripe_api)
    due_today(auto_refill)
    type(prescription).objects.filter(pk=prescription.pk).update(
        held_since=timezone.now(), hold_reason="Interaction with a new medicine."
    )
    mail.outbox.clear()

    run(capture)

    auto_refill.refresh_from_db()
    assert auto_refill.is_stopped
    assert "on hold until a pharmacist reviews it again" in auto_refill.stopped_reason
    assert not Order.objects.filter(patient=prescription.patient).exists()
    [email] = mail.outbox
    assert "was not placed" in email.subject
    assert (
        "Auto-refill is now off" in email.body and "Interaction with a new medicine" in email.body
    )


def test_the_review_refusing_an_early_refill_emails_and_tries_later(
    paid_order, prescription, stripe_api, capture
):
    auto_refill = turn_on(paid_order.patient, prescription, stripe_api)
    due_today(auto_refill)  # the order paid today lasts 3 days: too early
    mail.outbox.clear()

    run(capture)

    assert Order.objects.filter(patient=paid_order.patient).count() == 1
    cycle = AutoRefillCycle.objects.get(auto_refill=auto_refill, run_on=timezone.localdate())
    assert cycle.outcome == AutoRefillCycle.Outcome.REFUSED
    assert "You may order it again from" in cycle.detail
    auto_refill.refresh_from_db()
    assert auto_refill.is_active and auto_refill.next_run_on > timezone.localdate()
    [email] = mail.outbox
    assert "was not placed" in email.subject
    assert "You may order it again from" in email.body
    assert "Auto-refill stays on: we will try again on" in email.body


def test_skipping_once_moves_the_next_refill_by_one_supply(client, prescription, stripe_api):
    auto_refill = turn_on(prescription.patient, prescription, stripe_api)
    first = auto_refill.next_run_on
    client.force_login(prescription.patient)

    client.post(f"/auto-refills/{prescription.pk}/skip/")

    auto_refill.refresh_from_db()
    assert auto_refill.next_run_on == first + timedelta(days=3)
    cycle = AutoRefillCycle.objects.get(auto_refill=auto_refill, run_on=first)
    assert cycle.outcome == AutoRefillCycle.Outcome.SKIPPED


def test_the_prescription_page_offers_auto_refill(client, prescription, stripe_api):
    client.force_login(prescription.patient)
    page = client.get(prescription.get_absolute_url()).content.decode()
    assert f'href="/auto-refills/{prescription.pk}/"' in page

    turn_on(prescription.patient, prescription, stripe_api)
    page = client.get(prescription.get_absolute_url()).content.decode()
    assert "On: the next refill is on" in page


def test_the_refill_reminder_is_left_to_auto_refill(paid_order, prescription, stripe_api):
    line = paid_order.lines.get()
    day_before = run_out_date(line) - timedelta(days=1)
    assert list(due_orders(today=day_before)) == [paid_order]

    turn_on(paid_order.patient, prescription, stripe_api)

    assert not due_orders(today=day_before).exists(), "auto-refill sends its own notice"


def test_the_nightly_reconciliation_finds_the_saved_card_payment(prescription, stripe_api, capture):
    auto_refill = turn_on(prescription.patient, prescription, stripe_api)
    due_today(auto_refill)
    run(capture)
    order = Order.objects.get(patient=prescription.patient)
    assert order.stripe_session_id == "" and order.stripe_payment_intent.startswith("pi_")

    findings = find_discrepancies(since=timezone.now() - timedelta(hours=1))

    assert [f for f in findings if f.order is not None and f.order.pk == order.pk] == []
