"""Reading the prescriptions app's data for pages, exports and the admin."""

import json
from decimal import Decimal
from itertools import chain

from django.conf import settings
from django.core.serializers.json import DjangoJSONEncoder
from django.db import models
from django.utils import timezone

from . import review
from .models import (
    Consultation,
    ConsultationQuestion,
    MedicalProfile,
    Prescription,
    TelemedicinePartner,
)
from .review import ProfileState

# The profile fields a patient fills in, in the order the form shows them.
PROFILE_FIELDS = [
    "date_of_birth",
    "weight_kg",
    "kidney_disease",
    "egfr",
    "creatinine_clearance",
    "hepatic_impairment",
    "pregnant",
    "breastfeeding",
    "medication_classes",
    "other_medications",
    "hypersensitive_to",
    "allergies",
    "active_peptic_ulcer",
    "epilepsy",
    "psychiatric_disorder",
    "alcohol_use",
]


def _field(name):
    return MedicalProfile._meta.get_field(name)


def _display(record, name: str, names: dict[str, dict], m2m: dict | None = None) -> str:
    """A field's value on a profile or historical profile, as a person reads it; a
    historical record's many-to-many values come read already (`m2m`: name -> pks)."""
    field = _field(name)
    if field.many_to_many:
        if m2m is not None:
            pks = m2m.get(name, ())
        else:
            pks = getattr(record, name).values_list("pk", flat=True)
        return ", ".join(sorted(names[name].get(pk, f"#{pk}") for pk in pks))
    value = getattr(record, name)
    if value is None:
        return ""
    if isinstance(value, bool):
        return "yes" if value else "no"
    if field.choices:
        return str(dict(field.flatchoices).get(value, value))
    return str(value)


def _m2m_names() -> dict[str, dict]:
    return {
        name: dict(_field(name).related_model.objects.values_list("pk", "name"))
        for name in PROFILE_FIELDS
        if _field(name).many_to_many
    }


def _initial_display(name: str) -> str:
    field = _field(name)
    if field.many_to_many or field.null:
        return ""
    default = field.get_default()
    if isinstance(default, bool):
        return "yes" if default else "no"
    return str(dict(field.flatchoices).get(default, default)) if field.choices else str(default)


# History records read at a time: a chunk costs one query, plus one per many-to-many
# field, however long the history.
HISTORY_CHUNK = 500


def _history_m2m(records: list) -> dict[int, dict[str, list[int]]]:
    """Each historical record's many-to-many values: one query per field for them all.

    simple-history keeps them in a table per field whose rows point at the historical
    record (`history`) and at the related row (the through table's own column)."""
    values: dict[int, dict[str, list[int]]] = {r.history_id: {} for r in records}
    historical = MedicalProfile.history.model
    for name in PROFILE_FIELDS:
        field = _field(name)
        if not field.many_to_many:
            continue
        rows = (
            getattr(historical, name)
            .model.objects.filter(history_id__in=list(values))
            .values_list("history_id", field.m2m_reverse_field_name())
        )
        for history_id, pk in rows:
            values[history_id].setdefault(name, []).append(pk)
    return values


def _history_records(profile: MedicalProfile, chunk: int):
    """The profile's historical records, newest first, with their many-to-many values,
    read `chunk` at a time."""
    records = profile.history.select_related("history_user").order_by("-history_date", "-pk")
    start = 0
    while True:
        batch = list(records[start : start + chunk])
        m2m = _history_m2m(batch)
        yield from ((record, m2m[record.history_id]) for record in batch)
        if len(batch) < chunk:
            return
        start += chunk


def iter_profile_changes(profile: MedicalProfile, *, chunk: int = HISTORY_CHUNK):
    """Every edit of the profile, newest first: when, who, and each field's old and new
    value. A generator, read in chunks: the export streams it, the queue stops at five."""
    names = _m2m_names()
    newer = None
    for older, older_m2m in chain(_history_records(profile, chunk), [(None, None)]):
        if newer is not None:
            record, record_m2m = newer
            changes = []
            for name in PROFILE_FIELDS:
                new = _display(record, name, names, record_m2m)
                old = _display(older, name, names, older_m2m) if older else _initial_display(name)
                if new != old:
                    changes.append({"field": _field(name).verbose_name, "old": old, "new": new})
            if changes:
                who = record.history_user
                yield {
                    "when": record.history_date,
                    "who": str(who) if who else "system",
                    "changes": changes,
                }
        newer = (older, older_m2m)


def profile_changes(profile: MedicalProfile, *, limit: int | None = None) -> list[dict]:
    """The profile's edits, newest first; only the latest `limit` when given (read a few
    records more than that, not the whole history)."""
    if limit is None:
        return list(iter_profile_changes(profile))
    changes = iter_profile_changes(profile, chunk=limit * 4 + 1)
    return [change for change, _ in zip(changes, range(limit), strict=False)]


def profile_export(*, patient):
    """Everything the pharmacy holds in the patient's medical profile, with its history,
    as JSON text in pieces: the history is read and written a chunk at a time, so a long
    one never sits in memory whole."""
    profile = MedicalProfile.objects.filter(user=patient).first()
    names = _m2m_names()
    head = {
        "patient": {"email": patient.email, "name": patient.get_full_name()},
        "exported_at": timezone.now(),
        "profile": (
            {str(_field(n).verbose_name): _display(profile, n, names) for n in PROFILE_FIELDS}
            if profile
            else None
        ),
    }
    yield _json(head)[:-1] + ', "history": ['
    for i, change in enumerate(iter_profile_changes(profile) if profile else ()):
        yield ("," if i else "") + "\n" + _json(change)
    yield "\n]}\n"


def _json(value) -> str:
    return json.dumps(value, cls=DjangoJSONEncoder)


def profile_state(patient_id: int | None, *, profile=False) -> ProfileState:
    """Whether the patient has a profile, and when they last confirmed it: one query,
    unless the caller has loaded the profile already and passes it (or None)."""
    if profile is not False:
        return ProfileState(profile is not None, profile.confirmed_on if profile else None)
    row = (
        MedicalProfile.objects.filter(user_id=patient_id).values("confirmed_at").first()
        if patient_id
        else None
    )
    if row is None:
        return ProfileState(exists=False, confirmed_on=None)
    confirmed = row["confirmed_at"]
    return ProfileState(
        exists=True, confirmed_on=timezone.localdate(confirmed) if confirmed else None
    )


def checked_profile(*, patient_id: int) -> MedicalProfile | None:
    """The profile as the clinical checks read it (with its medication classes and
    hypersensitivities), in three queries; None when the patient has none yet."""
    return (
        MedicalProfile.objects.filter(user_id=patient_id)
        .prefetch_related("medication_classes", "hypersensitive_to")
        .first()
    )


def profile_notice(*, patient, on=None, profile=False) -> dict | None:
    """Why the patient must complete or confirm their profile before ordering, and
    whether a confirmation would do; None when the profile is up to date.

    A question left unanswered makes the profile incomplete: the message names it, and
    confirming would not answer it. A page that has loaded the profile already passes
    it (or None) as `profile`; otherwise one query loads what this needs.
    """
    if profile is False:
        profile = (
            MedicalProfile.objects.filter(user_id=patient.pk)
            .only("confirmed_at", *MedicalProfile.QUESTIONS)
            .first()
        )
    state = profile_state(patient.pk, profile=profile)
    unanswered = profile.unanswered if profile else []
    if unanswered:
        return {
            "message": "Your medical profile has questions you have not answered yet: "
            + ", ".join(unanswered)
            + ".",
            "can_confirm": False,
            "unanswered": unanswered,
        }
    message = review.profile_problem(
        state, today=on or timezone.localdate(), confirm_days=settings.PROFILE_CONFIRM_DAYS
    )
    return {"message": message, "can_confirm": state.exists} if message else None


def usable_prescriptions(*, patient, formulation, on=None):
    """The patient's verified, unexpired prescriptions for this form and strength with
    units left, oldest expiry first (so the one that runs out soonest is used first)."""
    return (
        Prescription.objects.usable(on=on)
        .filter(patient=patient, formulation=formulation)
        .order_by("expiry_date", "pk")
    )


def active_prescriptions(*, patient, formulation_ids, on=None) -> list:
    """The patient's active prescriptions for these forms and strengths, held ones
    included, oldest expiry first: what a cart covers (those not held, as
    `usable_prescriptions`) and what holds it back, in one query."""
    return list(
        Prescription.objects.active(on=on)
        .filter(patient=patient, formulation_id__in=formulation_ids)
        .order_by("expiry_date", "pk")
    )


# Orders whose medicine the patient holds or will hold (the orders app's statuses):
# cancelled and refunded ones gave their units back. Not "authorised": settling such an
# order counts the orders charged before it, never itself nor those still waiting their
# turn (each is counted once charged); checkout refuses a second order of a drug while
# one waits instead.
SUPPLY_ORDER_STATUSES = ("pending_payment", "paid", "dispatched", "delivered")


# An order whose card is authorised and waits for its prescription to be verified (the
# orders app's status; this app only reads it, through the order lines' relation).
ORDER_WAITING_STATUS = "authorised"


def order_waiting_since(prescription_pk):
    """When the oldest order still waiting for the prescription (an OuterRef, or a pk)
    had its card authorised, as a subquery: None when no order waits for it. The queue
    reads it stored (`Prescription.order_waiting_since`)."""
    return models.Subquery(
        Prescription.objects.filter(pk=prescription_pk)
        .annotate(
            since=models.Min(
                "order_lines__order__authorised_at",
                filter=models.Q(order_lines__order__status=ORDER_WAITING_STATUS),
            )
        )
        .values("since")[:1]
    )


def purchases(*, patient_id: int | None, drug_id: int | None) -> tuple[review.Purchase, ...]:
    """One query: every order line of this drug the patient bought or is paying for,
    through the prescriptions they used (the orders app points at prescriptions)."""
    if not patient_id or not drug_id:
        return ()
    rows = Prescription.objects.filter(patient_id=patient_id, drug_id=drug_id).values_list(
        "units_per_dose",
        "doses_per_day",
        "order_lines__quantity",
        "order_lines__pills_per_package",
        "order_lines__order__status",
        "order_lines__order__paid_at",
        "order_lines__order__created_at",
    )
    return tuple(
        review.Purchase(
            on=timezone.localdate(paid_at or created_at),
            units=quantity * pills,
            daily_units=per_dose * doses if per_dose and doses else None,
        )
        for per_dose, doses, quantity, pills, status, paid_at, created_at in rows
        if quantity and status in SUPPLY_ORDER_STATUSES
    )


def refill_supply(*, patient, drug_id: int) -> review.Supply | None:
    """The patient's supply of a drug and the first day its next order is not early;
    None when nothing is on hand, or the refill check is turned off (a share of 0)."""
    share = Decimal(settings.REFILL_TOO_EARLY_SHARE)
    if share <= 0:
        return None
    return review.supply_on_hand(purchases(patient_id=patient.pk, drug_id=drug_id), share=share)


def held_prescriptions(*, patient, formulation=None, on=None):
    """The patient's active prescriptions held until a pharmacist reviews them again."""
    held = Prescription.objects.active(on=on).filter(patient=patient, held_since__isnull=False)
    return held.filter(formulation=formulation) if formulation is not None else held


def units_available(*, patient, formulation, on=None) -> int:
    """How many units of this drug, form and strength the patient may still buy."""
    return sum(
        p.units_remaining
        for p in usable_prescriptions(patient=patient, formulation=formulation, on=on)
    )


# Consultations --------------------------------------------------------------------


def open_consultation(*, patient, drug) -> Consultation | None:
    """The patient's consultation for `drug` still waiting for the partner's answer: while
    there is one, asking again leads to it instead of sending a second request."""
    return Consultation.objects.filter(
        patient=patient, drug=drug, status=Consultation.Status.SENT
    ).first()


def consultation_partners():
    """The partners a patient may ask for a consultation: active, with a requests URL."""
    return TelemedicinePartner.objects.filter(active=True).exclude(requests_url="").order_by("name")


def consultation_questions(*, drug):
    """The questions staff ask about `drug`, in order (active ones only)."""
    return ConsultationQuestion.objects.filter(drug=drug, active=True).order_by("position", "pk")


def profile_answers(profile: MedicalProfile) -> list[dict]:
    """The profile's answers as the clinician reads them: one per question, in the
    form's order; an unanswered one is blank."""
    names = _m2m_names()
    return [
        {
            "id": f"profile.{name}",
            "question": str(_field(name).verbose_name)[:1].upper()
            + str(_field(name).verbose_name)[1:],
            "kind": "yes_no" if isinstance(_field(name), models.BooleanField) else "text",
            "answer": _display(profile, name, names),
        }
        for name in PROFILE_FIELDS
    ]
