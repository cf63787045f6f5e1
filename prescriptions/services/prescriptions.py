"""How prescriptions arrive, move through verification and are used up.

Every state change goes through `_move`: PRESCRIPTION_MACHINE (models) refuses what
its table does not allow and writes the StatusChange row, the first one included, and
the patient is emailed once the transaction has committed.
"""

from contextlib import contextmanager

from django.conf import settings
from django.core.exceptions import ValidationError
from django.core.files.base import ContentFile
from django.db import IntegrityError, transaction
from django.db.models import F, Q
from django.utils import timezone

from pharmacy.queue import enqueue_on_commit

from ..models import (
    PRESCRIPTION_MACHINE,
    MedicalProfile,
    Prescription,
    PrescriptionDocument,
    Source,
    Status,
    StatusChange,
    private_storage,
)
from ..models.prescription import DEFAULT_VALIDITY
from ..selectors import checked_profile
from .checks import prescription_run_checks
from .consultation_answers import consultation_link
from .identity import comparable_email, differs_from_account, named_account, refuse_own_prescription
from .renewals import renewal_link

# The task that emails the patient about a status change (see pharmacy.queue).
SEND_PRESCRIPTION_UPDATE = "prescriptions.tasks.send_prescription_update"
# Details a pharmacist must have filled in before verifying, with their names.
REQUIRED_FOR_VERIFICATION = {
    "prescriber_name": "prescriber",
    "prescriber_npi": "prescriber NPI",
    "drug": "drug",
    "formulation": "form and strength",
    "directions": "directions",
    "units_per_dose": "units per dose",
    "doses_per_day": "doses per day",
    "quantity": "quantity",
    "date_written": "date written",
    "expiry_date": "expiry date",
}
EDITABLE_DETAILS = [*REQUIRED_FOR_VERIFICATION, "prescriber_license", "refills"]
OPEN_STATUSES = (Status.SUBMITTED, Status.NEEDS_INFO)
# What a pharmacist's verification or rejection sets on the prescription besides its status.
DECISION_FIELDS = [
    "decided_by",
    "decided_at",
    "override_reason",
    "reviewed_findings",
    "pharmacist_message",
]


def _locked(prescription_id: int) -> Prescription:
    return (
        Prescription.objects.select_for_update(of=("self",))
        .select_related("drug", "formulation")
        .get(pk=prescription_id)
    )


def _notify(change: StatusChange) -> None:
    enqueue_on_commit(SEND_PRESCRIPTION_UPDATE, change.pk)


def _decided(prescription: Prescription) -> None:
    """Queue the tasks that follow a pharmacist's decision (settings, by name): an order
    waiting on this prescription is charged or cancelled there, not known here."""
    for task_name in settings.PRESCRIPTION_DECISION_TASKS:
        enqueue_on_commit(task_name, prescription.pk)


def announce_arrival(prescription: Prescription) -> None:
    """Queue the tasks that follow a prescription reaching a patient's account with its
    drug known (settings, by name): an order waiting for it to arrive from the
    prescriber takes it there. Harmless when none waits, and when queued twice."""
    if prescription.patient_id and prescription.drug_id:
        for task_name in settings.PRESCRIPTION_ARRIVAL_TASKS:
            enqueue_on_commit(task_name, prescription.pk)


def _move(
    prescription: Prescription, to_status: str, *, actor, also_save=(), **fields
) -> StatusChange:
    """Move through PRESCRIPTION_MACHINE, saving the status and `also_save` (the fields
    the caller set for this move) in one save, so the prescription's history has one
    version per move; then email the patient, if it has one yet."""
    change = PRESCRIPTION_MACHINE.move(
        prescription, to_status, actor=actor, also_save=also_save, **fields
    )
    if prescription.patient_id:
        _notify(change)
    return change


@contextmanager
def _files_removed_on_error():
    """Stored files whose rows never commit are deleted, so a failed upload leaves nothing."""
    stored: list[str] = []
    try:
        yield stored
    except BaseException:
        for name in stored:
            private_storage.delete(name)
        raise


def _add_documents(prescription: Prescription, documents, *, uploaded_by, stored: list) -> None:
    for doc in documents:
        row = PrescriptionDocument(
            prescription=prescription,
            content_type=doc.content_type,
            original_name=doc.original_name,
            size=doc.size,
            pages=doc.pages,
            sha256=doc.sha256,
            original_sha256=doc.original_sha256,
            uploaded_by=uploaded_by,
        )
        row.file.save(f"document{doc.extension}", ContentFile(doc.content), save=False)
        stored.append(row.file.name)
        row.save()


def prescription_submit_upload(*, patient, documents, note: str = "", drug=None) -> Prescription:
    """A patient's photo or scan of a paper prescription; a pharmacist fills in the details."""
    with _files_removed_on_error() as stored, transaction.atomic():
        profile = MedicalProfile.objects.filter(user=patient).first()
        prescription = Prescription(
            patient=patient,
            patient_email=patient.email,
            patient_name=patient.get_full_name(),
            patient_date_of_birth=profile.date_of_birth if profile else None,
            source=Source.UPLOAD,
            patient_note=note,
            drug=drug,
        )
        _move(prescription, Status.SUBMITTED, actor=patient)
        _add_documents(prescription, documents, uploaded_by=patient, stored=stored)
        prescription_run_checks(prescription)
        announce_arrival(prescription)
    return prescription


def prescription_respond(*, prescription_id: int, patient, note: str, documents=()) -> Prescription:
    """The patient answers a pharmacist's question: back in the queue, with what they sent."""
    if not note.strip() and not documents:
        raise ValidationError("Write an answer or add a file.")
    with _files_removed_on_error() as stored, transaction.atomic():
        prescription = _locked(prescription_id)
        if prescription.patient_id != patient.pk:
            raise Prescription.DoesNotExist
        _add_documents(prescription, documents, uploaded_by=patient, stored=stored)
        if note.strip():
            prescription.patient_note = "\n\n".join(
                part for part in (prescription.patient_note, note.strip()) if part
            )
        _move(
            prescription,
            Status.SUBMITTED,
            actor=patient,
            message=note.strip(),
            also_save=["patient_note"],
        )
        prescription_run_checks(prescription)
    return prescription


@transaction.atomic
def prescription_receive_from_partner(*, partner, data) -> tuple[Prescription, bool]:
    """An e-prescription from a telemedicine partner; idempotent by the partner's id.

    Returns (prescription, created). A prescription sent twice, even concurrently,
    is stored once: the unique constraint decides, and the loser returns the winner.
    """
    existing = Prescription.objects.filter(
        partner=partner, partner_reference=data.partner_reference
    ).first()
    if existing:
        return existing, False
    email = comparable_email(data.patient_email) or data.patient_email
    name = f"{data.patient_first_name} {data.patient_last_name}".strip()
    owner = named_account(email)
    if owner is not None and differs_from_account(
        owner, name=name, date_of_birth=data.patient_date_of_birth
    ):
        owner = None  # it waits; the identity finding says what differs
    try:
        with transaction.atomic():
            prescription = Prescription(
                patient=owner,
                patient_email=email,
                patient_name=name,
                patient_date_of_birth=data.patient_date_of_birth,
                source=Source.TELEMEDICINE,
                partner=partner,
                partner_reference=data.partner_reference,
                prescriber_name=data.prescriber_name,
                prescriber_npi=data.prescriber_npi,
                prescriber_license=data.prescriber_license,
                drug=data.drug,
                formulation=data.formulation,
                directions=data.directions,
                units_per_dose=data.units_per_dose,
                doses_per_day=data.doses_per_day,
                quantity=data.quantity,
                refills=data.refills,
                date_written=data.date_written,
                expiry_date=data.date_written + DEFAULT_VALIDITY,
            )
            _move(prescription, Status.SUBMITTED, actor=None)
            if data.renews:
                renewal_link(partner=partner, renews=data.renews, new_prescription=prescription)
            if data.consultation:
                consultation_link(
                    partner=partner, consultation=data.consultation, new_prescription=prescription
                )
    except IntegrityError:
        return (
            Prescription.objects.get(partner=partner, partner_reference=data.partner_reference),
            False,
        )
    prescription_run_checks(prescription)
    announce_arrival(prescription)
    return prescription, True


@transaction.atomic
def prescription_update_details(*, prescription_id: int, actor, details: dict) -> Prescription:
    """The pharmacist fills in or corrects the structured prescription; checks run again."""
    prescription = _locked(prescription_id)
    if prescription.status not in OPEN_STATUSES:
        raise ValidationError(
            f"A {prescription.get_status_display().lower()} prescription can no longer be edited."
        )
    unknown = set(details) - set(EDITABLE_DETAILS)
    if unknown:
        raise ValueError(f"Not editable: {', '.join(sorted(unknown))}")
    for name, value in details.items():
        setattr(prescription, name, value)
    if prescription.formulation_id and not prescription.drug_id:
        prescription.drug_id = prescription.formulation.drug_id
    if prescription.date_written and not prescription.expiry_date:
        prescription.expiry_date = prescription.date_written + DEFAULT_VALIDITY
    prescription.full_clean(exclude=["patient", "partner", "decided_by"])
    prescription._history_user = actor
    prescription.save()
    prescription_run_checks(prescription)
    announce_arrival(prescription)  # its drug may be known only now
    return prescription


@transaction.atomic
def prescription_verify(
    *,
    prescription_id: int,
    pharmacist,
    override_reason: str = "",
    warnings_acknowledged: bool = False,
) -> Prescription:
    """Verify, after checking the details are complete and every finding was answered."""
    prescription = _locked(prescription_id)
    refuse_own_prescription(prescription, pharmacist)
    if prescription.patient_id is None:
        raise ValidationError(
            "The prescription is not attached to a patient's account yet: it waits for its "
            "patient to confirm their address, or for an identity mismatch to be settled."
        )
    missing = [
        label
        for name, label in REQUIRED_FOR_VERIFICATION.items()
        if not getattr(prescription, name)
    ]
    if missing:
        raise ValidationError("Fill in before verifying: " + ", ".join(missing) + ".")
    if prescription.formulation.drug_id != prescription.drug_id:
        raise ValidationError("The form and strength do not belong to the prescribed drug.")
    results = prescription_run_checks(prescription)
    blocks = [r for r in results if r.level == "block"]
    warnings = [r for r in results if r.level == "warn"]
    override_reason = override_reason.strip()
    if blocks and not override_reason:
        raise ValidationError(
            (
                "1 blocking check needs"
                if len(blocks) == 1
                else f"{len(blocks)} blocking checks need"
            )
            + " a written override reason: "
            + "; ".join(r.title for r in blocks)
            + "."
        )
    if warnings and not warnings_acknowledged:
        raise ValidationError("Acknowledge the warnings before verifying.")
    prescription.decided_by = pharmacist
    prescription.decided_at = timezone.now()
    prescription.override_reason = override_reason
    prescription.reviewed_findings = sorted({r.code for r in blocks})
    prescription.pharmacist_message = ""
    _move(
        prescription,
        Status.VERIFIED,
        actor=pharmacist,
        override_reason=override_reason,
        also_save=DECISION_FIELDS,
    )
    _decided(prescription)
    return prescription


@transaction.atomic
def prescription_reject(*, prescription_id: int, pharmacist, reason: str) -> Prescription:
    if not reason.strip():
        raise ValidationError("Give the reason for rejecting; the patient will read it.")
    prescription = _locked(prescription_id)
    refuse_own_prescription(prescription, pharmacist)
    prescription.decided_by = pharmacist
    prescription.decided_at = timezone.now()
    prescription.pharmacist_message = reason.strip()
    _move(
        prescription,
        Status.REJECTED,
        actor=pharmacist,
        message=reason.strip(),
        also_save=DECISION_FIELDS,
    )
    _decided(prescription)
    return prescription


@transaction.atomic
def prescription_request_info(*, prescription_id: int, pharmacist, message: str) -> Prescription:
    if not message.strip():
        raise ValidationError("Write what the patient needs to send or explain.")
    prescription = _locked(prescription_id)
    refuse_own_prescription(prescription, pharmacist)
    prescription.pharmacist_message = message.strip()
    _move(
        prescription,
        Status.NEEDS_INFO,
        actor=pharmacist,
        message=message.strip(),
        also_save=["pharmacist_message"],
    )
    _decided(prescription)
    return prescription


def prescription_reserve_units(
    *, prescription_id: int, units: int, patient_id: int | None = None
) -> bool:
    """Take `units` from a usable prescription, or nothing at all; never above authorised.

    A conditional update, so two orders racing for the last units cannot both win.
    `patient_id`: the prescription's patient, when the caller holds its row (their
    pages' token moves without the query that would find them).
    """
    usable = (
        Prescription.objects.usable()
        .filter(pk=prescription_id)
        .filter(units_used__lte=F("quantity") * (F("refills") + 1) - units)
    )
    values = {"units_used": F("units_used") + units}
    if patient_id is None:
        return usable.update(**values) == 1
    return usable.update_of([patient_id], **values) == 1


def prescription_release_units(*, prescription_id: int, units: int) -> None:
    """Give back units of a cancelled or refunded order (the caller makes it happen once)."""
    Prescription.objects.filter(pk=prescription_id, units_used__gte=units).update(
        units_used=F("units_used") - units
    )


def recheck_patient_prescriptions(*, patient) -> None:
    """The patient's profile changed: findings change on the prescriptions still being
    worked, and on every verified one they may still order against, which a new
    blocking finding holds until a pharmacist looks again (prescription_run_checks)."""
    active = Prescription.objects.active().filter(patient=patient).values("pk")
    profile = checked_profile(patient_id=patient.pk)
    for prescription in (
        Prescription.objects.select_for_update(of=("self",))
        .select_related("drug", "formulation")
        .filter(Q(status__in=OPEN_STATUSES) | Q(pk__in=active), patient=patient)
        .order_by("pk")
    ):
        prescription_run_checks(prescription, profile=profile)


def prescription_recheck(*, prescription_id: int, profile=False, account=None) -> Prescription:
    """Run the checks again on one prescription (at checkout, for the ones it uses).

    `profile` and `account`: the patient's, read in the caller's transaction
    (prescription_run_checks). No savepoint: nothing here is caught and retried, so
    an error undoes the caller's transaction, as it would anyway.
    """
    with transaction.atomic(savepoint=False):
        prescription = _locked(prescription_id)
        prescription_run_checks(prescription, profile=profile, account=account)
    return prescription
