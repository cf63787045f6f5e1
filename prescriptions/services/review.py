"""A pharmacist's decisions on a prescription after it was verified."""

from django.core.exceptions import ValidationError
from django.db import transaction
from django.utils import timezone

from ..models import ClinicalReview, Prescription, Status
from ..review import PATIENT_ACTION_CODES
from .checks import prescription_run_checks
from .prescriptions import _locked


def _verified(
    prescription_id: int, reason: str, *, asking: str, also=(), what="reviewed again"
) -> Prescription:
    if not reason.strip():
        raise ValidationError(f"Give the reason {asking}; it is kept with your name.")
    prescription = _locked(prescription_id)
    if prescription.status != Status.VERIFIED and prescription.status not in also:
        status = prescription.get_status_display().lower()
        if also:
            raise ValidationError(f"A {status} prescription cannot be {what}.")
        raise ValidationError(f"Only a verified prescription can be {what}; this one is {status}.")
    return prescription


@transaction.atomic
def prescription_review_again(*, prescription_id: int, pharmacist, reason: str) -> Prescription:
    """The pharmacist looked at the findings that appeared after verification (a
    profile change, a new rule) and lets the patient order again.

    Every blocking finding standing now counts as answered, so only a later new one
    holds the prescription again. The findings seen are kept with the decision.
    """
    prescription = _verified(prescription_id, reason, asking="for releasing the hold")
    results = prescription_run_checks(prescription)
    ClinicalReview.objects.create(
        prescription=prescription,
        kind=ClinicalReview.Kind.REVIEWED_AGAIN,
        pharmacist=pharmacist,
        reason=reason.strip(),
        findings=[r.__dict__ for r in results],
        at=timezone.now(),
    )
    blocks = {r.code for r in results if r.level == "block"} - PATIENT_ACTION_CODES
    prescription.reviewed_findings = sorted(set(prescription.reviewed_findings) | blocks)
    prescription.held_since = None
    prescription.hold_reason = ""
    prescription._history_user = pharmacist
    prescription.save()
    return prescription


@transaction.atomic
def prescription_allow_early_refill(
    *, prescription_id: int, pharmacist, reason: str
) -> Prescription:
    """Let the next order on this prescription go through before the previous supply is
    used (travel, a lost supply, a dose increase): once, with the reason on record.

    Also before verification: an order placed against the prescription while it waits
    for the pharmacist is checked for an early refill when it is charged, so the
    pharmacist who sees that it will be early can allow it before verifying.
    """
    prescription = _verified(
        prescription_id,
        reason,
        asking="for the early refill",
        also=(Status.SUBMITTED, Status.NEEDS_INFO),
        what="allowed an early refill",
    )
    ClinicalReview.objects.create(
        prescription=prescription,
        kind=ClinicalReview.Kind.EARLY_REFILL,
        pharmacist=pharmacist,
        reason=reason.strip(),
        findings=prescription.check_results,
        at=timezone.now(),
    )
    prescription.early_refill_allowed = True
    prescription._history_user = pharmacist
    prescription.save()
    return prescription


def prescription_use_early_refill(*, prescription_id: int) -> bool:
    """An early order takes the pharmacist's allowance, or is refused; a conditional
    update, so two orders racing cannot both use one allowance."""
    return (
        Prescription.objects.filter(pk=prescription_id, early_refill_allowed=True).update(
            early_refill_allowed=False
        )
        == 1
    )
