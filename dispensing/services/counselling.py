"""Counselling offered on every first fill, the patient's answer, and order messages.

A first fill is a prescription's first order dispensed: the final check offers
counselling for it (one offer per order and prescription), emailed to the patient.
The patient accepts, declines or asks a question (which is a message on the order);
a pharmacist records the counselling. Every message is emailed to the other side as
a notice that says where to read it, never what it says.

The offer's email goes out from the order's dispatch task in the worker, which the
final check queues in the same transaction (`orders.extensions.checked_order_send`):
no task of its own, each costing the worker a few ms of Celery machinery. Its task
remains for an offer that fails to send there, and for one the sweep of lost work
finds unsent (`counselling_offers_resume`); every sender locks the row, so it is sent once.
"""

import logging
from datetime import datetime, timedelta

from django.core.exceptions import PermissionDenied, ValidationError
from django.db import transaction
from django.utils import timezone

from orders.models import Order, OrderLine
from pharmacy.batches import keyset_batches
from pharmacy.queue import enqueue, enqueue_on_commit

from ..models import CounsellingOffer, DispenseRecord, OrderMessage
from ..task_names import SEND_COUNSELLING_OFFER, SEND_MESSAGE_NOTICE

PHARMACIST_PERMISSION = "dispensing.perform_finalcheck"
MESSAGE_LIMIT = 2000

logger = logging.getLogger(__name__)


def counselling_offer_first_fills(
    *, order: Order, lines: list[OrderLine]
) -> list[CounsellingOffer]:
    """Offer counselling for each prescription this order fills for the first time.

    Called by the final check in its transaction, before it writes its own dispense
    records: a prescription with none yet is on its first fill. The dispatch task it
    queues emails the offers (`counselling_offers_send`).
    """
    offers = []
    for prescription_id in {line.prescription_id for line in lines if line.prescription_id}:
        # Boxes put back (a refund before shipping) were never the patient's first fill.
        given = DispenseRecord.objects.filter(
            prescription_id=prescription_id, returned__isnull=True
        )
        if given.exists():
            continue
        offer, created = CounsellingOffer.objects.get_or_create(
            order=order, prescription_id=prescription_id
        )
        if created:
            offers.append(offer)
    return offers


def _notify(message: OrderMessage) -> None:
    enqueue_on_commit(SEND_MESSAGE_NOTICE, message.pk)


def _clean_body(body: str) -> str:
    body = (body or "").strip()
    if not body:
        raise ValidationError({"body": "Write your message."})
    if len(body) > MESSAGE_LIMIT:
        raise ValidationError({"body": f"Keep it under {MESSAGE_LIMIT} characters."})
    return body


@transaction.atomic
def counselling_answer(
    *, offer_id: int, patient, answer: str, question: str = ""
) -> CounsellingOffer:
    """The patient's answer to a counselling offer, once; a question becomes a message."""
    offer = CounsellingOffer.objects.select_for_update().select_related("order").get(pk=offer_id)
    if offer.order.patient_id != patient.pk:
        raise PermissionDenied("Only the order's patient answers its counselling offer.")
    if not offer.is_pending:
        raise ValidationError(
            f"You answered already ({offer.get_answer_display().lower()}): to ask something "
            "now, write to the pharmacist below."
        )
    choices = CounsellingOffer.Answer
    if answer not in (choices.ACCEPTED, choices.DECLINED, choices.QUESTION):
        raise ValidationError({"answer": "Choose whether you would like counselling."})
    if answer == choices.QUESTION:
        body = _clean_body(question)
        message = OrderMessage.objects.create(
            order=offer.order, author=patient, from_pharmacist=False, body=body
        )
        _notify(message)
    offer.answer = answer
    offer.answered_at = timezone.now()
    offer._history_user = patient
    offer.save(update_fields=["answer", "answered_at"])
    return offer


@transaction.atomic
def counselling_record(*, offer_id: int, pharmacist, notes: str) -> CounsellingOffer:
    """A pharmacist counselled the patient (by phone, or by message): who, when, what."""
    if not pharmacist.has_perm(PHARMACIST_PERMISSION):
        raise PermissionDenied("Only a pharmacist counsels patients.")
    notes = (notes or "").strip()
    if not notes:
        raise ValidationError({"notes": "Say how the patient was counselled and what about."})
    offer = CounsellingOffer.objects.select_for_update().get(pk=offer_id)
    if offer.counselled_at is not None:
        raise ValidationError("This counselling is recorded already.")
    offer.counselled_by = pharmacist
    offer.counselled_at = timezone.now()
    offer.notes = notes
    offer._history_user = pharmacist
    offer.save(update_fields=["counselled_by", "counselled_at", "notes"])
    return offer


@transaction.atomic
def message_post(*, order_id: int, author, body: str) -> OrderMessage:
    """A message on an order from its patient or from a pharmacist, noticed to the other."""
    order = Order.objects.select_for_update().get(pk=order_id)
    from_pharmacist = author.pk != order.patient_id
    if from_pharmacist and not author.has_perm(PHARMACIST_PERMISSION):
        raise PermissionDenied("Only the patient and the pharmacists write on an order.")
    message = OrderMessage.objects.create(
        order=order, author=author, from_pharmacist=from_pharmacist, body=_clean_body(body)
    )
    _notify(message)
    return message


def _send_once(model, pk: int, field: str, send) -> bool:
    with transaction.atomic():
        # The order and its patient come with the row: every email names both.
        row = (
            model._base_manager.select_for_update(of=("self",))
            .select_related("order__patient")
            .get(pk=pk)
        )
        if getattr(row, field) is not None:
            return False
        send(row)
        # The one write to a sent row; the append-only manager refuses updates.
        model._base_manager.filter(pk=pk).update(**{field: timezone.now()})
    return True


def counselling_offer_send(*, offer_id: int, send) -> bool:
    return _send_once(CounsellingOffer, offer_id, "emailed_at", send)


def counselling_offers_send(*, order_id: int, send, order: Order | None = None) -> int:
    """Email the order's counselling offers not emailed yet, here; returns how many.

    One query finds and locks them, with the order and patient every email names
    unless the caller has them (`order`, with its patient). An offer whose email fails
    is queued as its task (which retries) and the others are still recorded as sent,
    so that none goes out twice.
    """
    offers = CounsellingOffer.objects.select_for_update(of=("self",)).filter(
        order_id=order_id, emailed_at__isnull=True
    )
    if order is None:
        offers = offers.select_related("order__patient")
    sent = []
    with transaction.atomic():
        for offer in offers.order_by("pk"):
            if order is not None:
                offer.order = order
            try:
                send(offer)
            except Exception:
                logger.warning("Counselling offer %s not sent here; queued", offer.pk)
                enqueue_on_commit(SEND_COUNSELLING_OFFER, offer.pk)
            else:
                sent.append(offer.pk)
        if sent:
            CounsellingOffer.objects.filter(pk__in=sent).update(emailed_at=timezone.now())
    return len(sent)


# An offer not emailed by then is left unsent: the medicine has arrived, and a late "we
# can talk you through it" (say, one whose task gave up long ago, found on a deploy)
# would only confuse. The pharmacist still sees the offer on the order.
OFFER_EMAIL_STALE_AFTER = timedelta(days=2)


def counselling_offers_resume(*, before: datetime, batch: int) -> int:
    """Queue the email of each offer made before `before`, in the last
    OFFER_EMAIL_STALE_AFTER, and not emailed (its dispatch task lost, or its process
    killed before it sent); returns how many."""
    unsent = CounsellingOffer.objects.filter(
        emailed_at__isnull=True,
        offered_at__lt=before,
        offered_at__gte=before - OFFER_EMAIL_STALE_AFTER,
    )
    count = 0
    for offer_ids in keyset_batches(unsent, order="offered_at", size=batch):
        for offer_id in offer_ids:
            enqueue(SEND_COUNSELLING_OFFER, offer_id)
        count += len(offer_ids)
    return count


def message_notice_send(*, message_id: int, send) -> bool:
    return _send_once(OrderMessage, message_id, "notified_at", send)


def waiting_for_pharmacist(order: Order) -> bool:
    """The patient's last word is unanswered: a question, an accepted offer, a message."""
    last = order.messages.order_by("-at", "-pk").first()
    if last is not None and not last.from_pharmacist:
        return True
    return any(offer.waits_for_pharmacist for offer in order.counselling_offers.all())
