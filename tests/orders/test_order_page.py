"""What the order page says while the patient waits, in the patient's words: the payment
being confirmed, each step with its time, no processor ids, and a cancel button that
does not look like paying."""

import re

from django.core import mail
from django.test import Client

from orders import services
from orders.models import Order, OrderStatus
from orders.progress import patient_note
from tests.dispensing.factories import release
from tests.orders.factories import pay_and_release, place_order

PROCESSOR_ID = re.compile(r"\b(?:pi|cs|ch|re)_[A-Za-z0-9]+")


def signed_in(user) -> Client:
    client = Client()
    client.force_login(user)
    return client


def status_line(html: str) -> str:
    return re.search(r'id="order-status">([^<]*)<', html).group(1)


def test_after_paying_the_page_says_the_payment_is_being_confirmed_and_announces_it(
    prescribed_patient,
):
    order = place_order(patient=prescribed_patient)
    html = signed_in(prescribed_patient).get(order.get_absolute_url() + "?paid=1").content.decode()

    assert status_line(html) == "Confirming your payment"
    progress = re.search(
        r'<div class="notice notice--rx progress"([^>]*)>(.*?)</div>\s*</div>', html, re.S
    )
    assert 'role="status"' in progress.group(1) and 'aria-live="polite"' in progress.group(1)
    assert "Your payment is being confirmed" in progress.group(2)
    assert '<meta http-equiv="refresh"' in html
    assert 'aria-current="step">\n    <span class="steps__label">Confirming payment' in html
    assert "Pay now" not in html, "no second payment while the first is confirmed"


def test_an_unpaid_order_still_says_waiting_for_payment_and_offers_to_pay(prescribed_patient):
    order = place_order(patient=prescribed_patient)
    html = signed_in(prescribed_patient).get(order.get_absolute_url()).content.decode()

    assert status_line(html) == "Waiting for payment"
    assert "Your payment is being confirmed" not in html
    assert "Pay now" in html


def test_the_reserved_until_time_is_not_followed_by_a_second_period(prescribed_patient):
    order = place_order(patient=prescribed_patient)
    html = signed_in(prescribed_patient).get(order.get_absolute_url()).content.decode()

    assert re.search(r"reserved until \d{1,2}:\d\d [ap]\.m\.: pay to confirm it", html)
    assert ".m.." not in html


def test_a_dispatched_order_shows_paid_as_a_step_of_its_own_with_its_time(
    prescribed_patient, capture
):
    order = pay_and_release(place_order(patient=prescribed_patient), capture)
    assert order.status == OrderStatus.DISPATCHED
    html = signed_in(prescribed_patient).get(order.get_absolute_url()).content.decode()

    steps = re.findall(
        r'<li class="steps__step steps__step--(\w+)".*?<span class="steps__label">([^<]+)</span>'
        r"(.*?)</li>",
        html,
        re.S,
    )
    assert [(state, label) for state, label, _ in steps] == [
        ("done", "Order placed"),
        ("done", "Paid"),
        ("done", "On its way"),
        ("todo", "Delivered"),
    ]
    assert "<time" in steps[1][2], "the paid step says when"


def test_no_processor_id_on_the_patients_pages_or_emails(prescribed_patient, capture):
    order = place_order(patient=prescribed_patient)
    with capture(execute=True):  # as the webhook's handler pays it, with the id for staff
        services.order_mark_paid(
            order_id=order.pk, payment_intent="pi_3Test", note="Paid with Stripe (pi_3Test)"
        )
    assert PROCESSOR_ID.search(" ".join(c.note for c in order.status_changes.all()))
    client = signed_in(prescribed_patient)

    for path in (order.get_absolute_url(), "/orders/", order.get_absolute_url() + "?paid=1"):
        html = client.get(path).content.decode()
        assert not PROCESSOR_ID.search(html), path
    assert "Paid with Stripe" in client.get(order.get_absolute_url()).content.decode()
    release(order, capture=capture)
    assert mail.outbox, "the receipt and the dispatch email were sent"
    for message in mail.outbox:
        assert not PROCESSOR_ID.search(message.subject + message.body), message.subject


def test_patient_notes_lose_processor_ids_and_keep_their_words():
    assert patient_note("Paid with Stripe (pi_3Abc123)") == "Paid with Stripe"
    assert patient_note("Refunded in Stripe (re_9Zz)") == "Refunded in Stripe"
    assert patient_note("Refunded in Stripe ($41.71)") == "Refunded in Stripe ($41.71)"
    assert patient_note("Cancelled by the patient") == "Cancelled by the patient"


def test_cancel_order_is_styled_apart_from_pay_now(prescribed_patient):
    order = place_order(patient=prescribed_patient)
    html = signed_in(prescribed_patient).get(order.get_absolute_url()).content.decode()

    pay_class = re.search(r'<button type="submit" class="([^"]+)">Pay now', html).group(1)
    cancel_class = re.search(r'<button type="submit" class="([^"]+)">Cancel order', html).group(1)
    assert "button--danger-quiet" in cancel_class.split()
    assert pay_class != cancel_class


def test_a_cancelled_order_has_no_steps_ahead(prescribed_patient):
    order = place_order(patient=prescribed_patient)
    Order.objects.filter(pk=order.pk).update(status=OrderStatus.CANCELLED)
    html = signed_in(prescribed_patient).get(order.get_absolute_url()).content.decode()

    assert 'class="steps"' not in html
    assert "This order was cancelled and nothing was charged." in html
