"""Counselling on a first fill, the patient's answer on the order, and private messages."""

from email.utils import parseaddr

import pytest
from django.core import mail
from django.core.exceptions import ValidationError
from django.test import Client
from django.urls import reverse

from about.emails import pharmacy_name
from devtools.demo.pharmacy import ensure_demo_pharmacy
from dispensing.models import CounsellingOffer, OrderMessage
from dispensing.services.counselling import counselling_answer
from tests.dispensing.factories import release
from tests.factories import make_user_with_verified_email
from tests.orders.factories import pay, place_order

pytestmark = pytest.mark.django_db

SECRET = "Can I take it with my evening ibuprofen?"


@pytest.fixture
def first_fill(to_check, capture):
    release(to_check, capture=capture)
    return to_check


def patient_client(order) -> Client:
    client = Client()
    client.force_login(order.patient)
    return client


def test_a_first_fill_offers_counselling_by_email_and_a_refill_does_not(
    first_fill, capture, settings
):
    settings.REFILL_TOO_EARLY_SHARE = "0"
    offer = CounsellingOffer.objects.get(order=first_fill)
    assert offer.is_pending
    assert offer.prescription == first_fill.lines.get().prescription
    sent = [m for m in mail.outbox if "talk you through" in m.subject]
    assert len(sent) == 1
    assert reverse("dispensing:conversation", args=[first_fill.number]) in sent[0].body
    # The second order on the same prescription is a refill: no new offer.
    refill = pay(place_order(patient=first_fill.patient), capture)
    release(refill, capture=capture)
    assert not CounsellingOffer.objects.filter(order=refill).exists()


def test_the_patient_declines_and_the_answer_is_recorded_on_the_order(first_fill):
    client = patient_client(first_fill)
    url = reverse("dispensing:conversation", args=[first_fill.number])
    assert "This medicine is new for you" in client.get(url).content.decode()
    response = client.post(url, {"c-answer": "declined"}, follow=True)
    assert "your answer is recorded" in response.content.decode()
    offer = CounsellingOffer.objects.get(order=first_fill)
    assert (offer.answer, offer.answered_at is not None) == ("declined", True)
    assert offer.history.first().history_user == first_fill.patient
    with pytest.raises(ValidationError, match="You answered already"):
        counselling_answer(offer_id=offer.pk, patient=first_fill.patient, answer="accepted")


def test_a_question_reaches_the_pharmacists_as_a_notice_and_the_answer_comes_back(
    first_fill, pharmacist, pharmacist_client, capture
):
    mail.outbox.clear()
    client = patient_client(first_fill)
    url = reverse("dispensing:conversation", args=[first_fill.number])
    with capture(execute=True):
        client.post(url, {"c-answer": "question", "c-question": SECRET})
    offer = CounsellingOffer.objects.get(order=first_fill)
    assert offer.answer == "question"
    assert OrderMessage.objects.get().body == SECRET
    [notice] = mail.outbox
    assert pharmacist.email in notice.to  # every pharmacist (other tests made more)
    assert SECRET not in notice.body and "ibuprofen" not in notice.subject

    queue = pharmacist_client.get(reverse("admin:dispensing_orderconversation_changelist"))
    assert first_fill.number in queue.content.decode()
    page_url = reverse("admin:dispensing_orderconversation_change", args=[first_fill.pk])
    assert SECRET in pharmacist_client.get(page_url).content.decode()
    mail.outbox.clear()
    with capture(execute=True):
        pharmacist_client.post(page_url, {"r-body": "Yes, but space them two hours apart."})
        pharmacist_client.post(
            page_url, {"offer": offer.pk, "c-notes": "Answered in writing: NSAID spacing."}
        )
    [to_patient] = mail.outbox
    assert to_patient.to == [first_fill.patient.email]
    assert "two hours" not in to_patient.body
    offer.refresh_from_db()
    assert offer.counselled_by == pharmacist and not offer.waits_for_pharmacist
    assert "two hours apart" in client.get(url).content.decode()
    waiting = pharmacist_client.get(
        reverse("admin:dispensing_orderconversation_changelist"), {"waiting": "yes"}
    )
    assert first_fill.number not in waiting.content.decode()


def test_unanswered_conversations_come_first_in_the_pharmacists_list(
    first_fill, pharmacist_client, capture, settings
):
    settings.REFILL_TOO_EARLY_SHARE = "0"
    CounsellingOffer.objects.filter(order=first_fill).update(answer="declined")
    later = pay(place_order(patient=first_fill.patient), capture)
    release(later, capture=capture)
    patient_client(later).post(
        reverse("dispensing:conversation", args=[later.number]), {"m-body": "When does it ship?"}
    )
    html = pharmacist_client.get(
        reverse("admin:dispensing_orderconversation_changelist")
    ).content.decode()
    assert html.index(later.number) < html.index(first_fill.number)


def test_another_patient_never_sees_the_conversation(first_fill):
    other = Client()
    other.force_login(make_user_with_verified_email())
    url = reverse("dispensing:conversation", args=[first_fill.number])
    assert other.get(url).status_code == 404
    assert other.post(url, {"m-body": "hello"}).status_code == 404
    assert not OrderMessage.objects.exists()


def test_the_counselling_offer_is_in_the_pharmacys_name(to_check, capture, settings):
    with capture(execute=True):  # saved as staff save it: the cached details are dropped
        ensure_demo_pharmacy()
    name = pharmacy_name()
    assert name != settings.SITE_NAME  # the pharmacy's own name, not the site's
    release(to_check, capture=capture)
    [offer] = [m for m in mail.outbox if "talk you through" in m.subject]
    assert offer.subject.endswith(f" - {name}")
    assert parseaddr(offer.from_email)[0] == name
