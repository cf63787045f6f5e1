"""A recall entered by staff: hold what is left of the lot, find who received it, tell them.

Holding takes the lot's boxes off the sellable stock (they are kept for the
supplier, never dispensed: the final check only picks unheld lots), a parcel
checked with the lot but not yet booked is held too (services.holds), and every
patient a dispense record ties to the lot is written one notice (naming the orders
that reached them and those held), emailed after the commit by the task
`dispensing.recalls.send_recall_notice`.
"""

from django.core.exceptions import ValidationError
from django.db import transaction
from django.utils import timezone

from pharmacy.queue import enqueue_on_commit

from ..models import DispenseRecord, Lot, Recall, RecallNotice
from ..task_names import SEND_RECALL_NOTICE
from .holds import holds_place
from .stock import _take_off_sale


def recall_errors(*, package_id: int | None, lot_number: str) -> dict[str, str]:
    """What stops a recall as typed, by field; empty when it can be entered."""
    number = (lot_number or "").strip().upper()
    if not number:
        return {"lot_number": "Enter the recalled lot number."}
    if package_id is None:
        return {"package": "Choose the package the lot is of."}
    if not Lot.objects.filter(package_id=package_id, lot_number=number).exists():
        return {"lot_number": f"No lot {number} of this package was ever received here."}
    if Recall.objects.filter(package_id=package_id, lot_number=number).exists():
        return {"lot_number": f"Lot {number} of this package is already recalled."}
    return {}


@transaction.atomic
def recall_enter(
    *, package_id: int, lot_number: str, reason: str, patient_instructions: str, entered_by
) -> Recall:
    errors = recall_errors(package_id=package_id, lot_number=lot_number)
    if not (reason or "").strip():
        errors["reason"] = "Say why the lot is recalled."
    if not (patient_instructions or "").strip():
        errors["patient_instructions"] = "Say what the patients who received it should do."
    if errors:
        raise ValidationError(errors)
    number = lot_number.strip().upper()
    recall = Recall(
        package_id=package_id,
        lot_number=number,
        reason=reason.strip(),
        patient_instructions=patient_instructions.strip(),
        entered_by=entered_by,
    )
    recall._history_user = entered_by
    recall.save()
    lots = Lot.objects.select_for_update().filter(package_id=package_id, lot_number=number)
    for lot in lots:
        if lot.held_at is None:
            if lot.removed_from_sale_at is None and lot.quantity_on_hand:
                _take_off_sale(lot)
            lot.held_at = timezone.now()
            lot.hold_reason = f"Recalled: {recall.reason}"[:300]
            lot._history_user = entered_by
            lot.save(update_fields=["held_at", "hold_reason"])
    held = holds_place(recall=recall, by=entered_by)
    received = affected_orders(recall=recall)
    for patient_id, numbers in received.items():
        # One notice a patient: the orders that reached them, and those held here.
        kept = held.get(patient_id, set())
        notice = RecallNotice.objects.create(
            recall=recall,
            patient_id=patient_id,
            orders=", ".join(sorted(numbers - kept))[:300],
            held_orders=", ".join(sorted(kept))[:300],
        )
        enqueue_on_commit(SEND_RECALL_NOTICE, notice.pk)
    return recall


def affected_orders(*, recall: Recall) -> dict[int, set[str]]:
    """Patient id -> the numbers of their orders the recalled lot was dispensed into."""
    records = DispenseRecord.objects.filter(
        lot__package_id=recall.package_id,
        lot__lot_number=recall.lot_number,
        returned__isnull=True,  # boxes put back (a refund) never reached the patient
    ).values_list("order_line__order__patient_id", "order_line__order__number")
    received: dict[int, set[str]] = {}
    for patient_id, number in records:
        received.setdefault(patient_id, set()).add(number)
    return received


def recall_notice_send(*, notice_id: int, send) -> bool:
    """Email one notice, once: False when it was sent already. `send` builds and sends
    the message (dispensing.emails), so this stays the one place that marks it sent."""
    with transaction.atomic():
        notice = (
            RecallNotice.objects.select_for_update()
            .select_related("recall__package__formulation__drug", "patient")
            .get(pk=notice_id)
        )
        if notice.sent_at is not None:
            return False
        send(notice)
        notice.sent_at = timezone.now()
        notice.save(update_fields=["sent_at"])
    return True
