"""Which account a prescription joins, and how a pharmacist settles a mismatch.

The rule itself (verified primary address, name and date of birth) is in
`identity`; these are the state changes that apply it.
"""

from django.core.exceptions import ValidationError
from django.db import transaction

from ..models import PRESCRIPTION_MACHINE, Prescription
from .checks import prescription_run_checks
from .identity import (
    account_identity,
    comparable_email,
    named_account,
    prescription_identity_differences,
    refuse_own_prescription,
)
from .prescriptions import OPEN_STATUSES, announce_arrival


@transaction.atomic
def attach_waiting_prescriptions(*, user, email: str) -> int:
    """A patient confirmed `email`: prescriptions sent for it before they signed up are theirs.

    Only if it is now their verified primary address (a secondary one names nobody),
    and only those whose patient has their name and date of birth; the others keep
    waiting, with an identity finding for a pharmacist. Returns how many attached.
    """
    email = comparable_email(email)
    if email is None or named_account(email) != user:
        return 0
    identity = account_identity(user)
    attached = 0
    for prescription in Prescription.objects.select_for_update().filter(
        patient__isnull=True, patient_email=email
    ):
        if not prescription_identity_differences(prescription, identity):
            prescription.patient = user
            prescription.save(update_fields=["patient", "updated_at"])
            attached += 1
            announce_arrival(prescription)
        prescription_run_checks(prescription)
    return attached


@transaction.atomic
def prescription_accept_identity(*, prescription_id: int, pharmacist, reason: str) -> Prescription:
    """A pharmacist settles an identity mismatch after checking with the patient or prescriber.

    A waiting prescription is attached to the account its address names (its
    verified primary address); an attached one keeps its account. Either way the
    account's name and date of birth as they are now are recorded as accepted, and
    the reason goes into the status history with who and when. Should the account's
    name or date of birth change later, the finding blocks again.
    """
    reason = reason.strip()
    if not reason:
        raise ValidationError("Write why the patient is the account holder despite the difference.")
    prescription = Prescription.objects.select_for_update(of=("self",)).get(pk=prescription_id)
    refuse_own_prescription(prescription, pharmacist)
    if prescription.status not in OPEN_STATUSES:
        raise ValidationError(
            f"A {prescription.get_status_display().lower()} prescription can no longer change hands."
        )
    account = prescription.patient or named_account(prescription.patient_email)
    if account is None:
        raise ValidationError(
            f"No account has {prescription.patient_email} as its verified primary address: "
            "the prescription waits for its patient to sign up."
        )
    identity = account_identity(account)
    differences = prescription_identity_differences(prescription, identity)
    if not differences and prescription.patient_id:
        raise ValidationError("The patient matches the account: there is nothing to accept.")
    attaching = prescription.patient_id is None
    prescription.patient = account
    prescription.identity_accepted_for = identity.acceptance_key
    prescription._history_user = pharmacist
    prescription.save()
    what = f"Attached to the account {account.email}" if attaching else "Identity accepted"
    # A row of its own in the status history (the status stays), for the pharmacists'
    # eyes: the message, which the patient reads, stays empty.
    PRESCRIPTION_MACHINE.note(
        prescription,
        actor=pharmacist,
        override_reason=f"{what} despite {'; '.join(differences) or 'no difference'}: {reason}",
    )
    prescription_run_checks(prescription)
    if attaching:
        announce_arrival(prescription)
    return prescription
