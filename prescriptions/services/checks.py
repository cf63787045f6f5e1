"""Running the clinical checks on a stored prescription and keeping the results on it."""

from decimal import Decimal

from django.conf import settings
from django.db.models import Q
from django.utils import timezone

from ..checks import CheckResult, Level, PatientFacts, PrescriptionFacts, run_checks
from ..models import Prescription, PrescriptionDocument, Status
from ..monograph import MonographFacts
from ..review import (
    PATIENT_ACTION_CODES,
    RegimenFacts,
    ReviewFacts,
    ReviewSettings,
    run_review,
)
from ..selectors import checked_profile, profile_state, purchases
from .identity import identity_findings

DOCUMENT_REUSE_CODE = "document_reused"


def patient_facts(prescription: Prescription, *, profile=False) -> PatientFacts:
    """The patient as the checks see them: the profile if there is one, else what the
    prescription says (a telemedicine prescription waiting for its patient to sign up).

    `profile`: the patient's, as `checked_profile` reads it (or None), when the caller
    has loaded it already."""
    if profile is False:
        profile = (
            checked_profile(patient_id=prescription.patient_id) if prescription.patient_id else None
        )
    on = prescription.date_written or timezone.localdate()
    previous = (
        Prescription.objects.filter(
            patient_id=prescription.patient_id,
            drug_id=prescription.drug_id,
            status=Status.VERIFIED,
        )
        .exclude(pk=prescription.pk)
        .select_related("formulation")
        .order_by("-date_written", "-pk")
        .first()
        if prescription.patient_id and prescription.drug_id
        else None
    )
    earlier = previous is not None
    titration = {}
    if previous is not None and previous.formulation and previous.daily_units:
        per_unit = previous.formulation.mg_per_unit
        titration = {
            "previous_daily_mg": previous.daily_units * per_unit if per_unit else None,
            "previous_date_written": previous.date_written,
        }
    if profile is None:
        born = prescription.patient_date_of_birth
        age = None
        if born:
            age = on.year - born.year - ((on.month, on.day) < (born.month, born.day))
        return PatientFacts(
            age_years=age,
            weight_kg=None,
            # Without a profile nothing was answered: unknown, not "no".
            kidney_disease=None,
            pregnant=None,
            breastfeeding=None,
            medication_classes=frozenset(),
            other_medications="",
            alcohol_use=None,
            active_peptic_ulcer=None,
            epilepsy=None,
            psychiatric_disorder=None,
            hepatic_impairment=None,
            hypersensitive_to_drug=False,
            has_earlier_prescription=earlier,
            **titration,
        )
    return PatientFacts(
        age_years=profile.age_on(on),
        weight_kg=profile.weight_kg,
        kidney_disease=profile.kidney_disease,
        pregnant=profile.pregnant,
        breastfeeding=profile.breastfeeding,
        medication_classes=frozenset(m.slug for m in profile.medication_classes.all()),
        other_medications=profile.other_medications,
        alcohol_use=profile.alcohol_use,
        active_peptic_ulcer=profile.active_peptic_ulcer,
        epilepsy=profile.epilepsy,
        psychiatric_disorder=profile.psychiatric_disorder,
        hypersensitive_to_drug=any(
            d.pk == prescription.drug_id for d in profile.hypersensitive_to.all()
        ),
        has_earlier_prescription=earlier,
        hepatic_impairment=profile.hepatic_impairment,
        egfr=profile.egfr,
        creatinine_clearance=profile.creatinine_clearance,
        **titration,
    )


def prescription_facts(prescription: Prescription) -> PrescriptionFacts:
    formulation = prescription.formulation
    return PrescriptionFacts(
        form=formulation.form if formulation else "",
        strength_mg=formulation.strength_mg if formulation else None,
        units_per_dose=prescription.units_per_dose,
        doses_per_day=prescription.doses_per_day,
        prescriber_npi=prescription.prescriber_npi,
        date_written=prescription.date_written,
        expiry_date=prescription.expiry_date,
        mg_per_ml=formulation.concentration_mg_per_ml if formulation else None,
    )


def _missing_details(prescription: Prescription) -> list[CheckResult]:
    missing = [
        label
        for label, value in (
            ("drug", prescription.drug_id),
            ("form and strength", prescription.formulation_id),
            ("quantity", prescription.quantity),
            ("date written", prescription.date_written),
            ("prescriber", prescription.prescriber_name),
        )
        if not value
    ]
    if not missing:
        return []
    return [
        CheckResult(
            "details_missing",
            Level.BLOCK,
            "Prescription details to fill in",
            "Read them from the document and fill in: " + ", ".join(missing) + ".",
            "A prescription is verified against its structured details.",
        )
    ]


def _document_reuse(prescription: Prescription) -> list[CheckResult]:
    hashes = prescription.documents.values_list("original_sha256", flat=True)
    reused = (
        PrescriptionDocument.objects.filter(original_sha256__in=list(hashes))
        .exclude(prescription__patient_id=prescription.patient_id)
        .select_related("prescription")
    )
    others = sorted({doc.prescription_id for doc in reused})
    if not others:
        return []
    return [
        CheckResult(
            DOCUMENT_REUSE_CODE,
            Level.BLOCK,
            "Possible fraud: the same document was uploaded by another account",
            "Identical file on prescription " + ", ".join(f"#{pk}" for pk in others) + ".",
            "A prescription document belongs to one patient.",
        )
    ]


def review_settings() -> ReviewSettings:
    return ReviewSettings(
        profile_confirm_days=settings.PROFILE_CONFIRM_DAYS,
        refill_share=Decimal(settings.REFILL_TOO_EARLY_SHARE),
        max_days_supply=settings.MAX_DAYS_SUPPLY,
    )


def _regimen(prescription: Prescription, *, other_of_drug: int | None = None) -> RegimenFacts:
    """The prescription under review (`other_of_drug` None) or another active one, whose
    formulation, drug and class the caller loaded with it."""
    formulation = prescription.formulation
    fields = {}
    if other_of_drug is not None:
        drug = formulation.drug
        fields = {
            "label": f"#{prescription.pk} {formulation}",
            "same_drug": drug.pk == other_of_drug,
            "class_name": drug.medication_class.name if drug.medication_class else "",
        }
    return RegimenFacts(
        pk=prescription.pk,
        label=fields.pop("label", f"#{prescription.pk}"),
        strength_mg=formulation.strength_mg if formulation else None,
        units_per_dose=prescription.units_per_dose,
        doses_per_day=prescription.doses_per_day,
        units_left=prescription.units_remaining,
        **fields,
    )


def _active_others(prescription: Prescription) -> tuple[RegimenFacts, ...]:
    """One query: the patient's other active prescriptions of this drug or its class.

    A verified prescription is compared with those verified before it, the ones its
    pharmacist saw: the duplicate was judged once, on the newer prescription.
    """
    if not prescription.patient_id or not prescription.drug_id:
        return ()
    class_id = prescription.drug.medication_class_id
    related = Q(drug_id=prescription.drug_id)
    if class_id:
        related |= Q(drug__medication_class_id=class_id)
    others = (
        Prescription.objects.active()
        .filter(related, patient_id=prescription.patient_id)
        .exclude(pk=prescription.pk)
        .select_related("formulation__drug__medication_class")
        .order_by("decided_at", "pk")
    )
    if prescription.status == Status.VERIFIED and prescription.decided_at:
        others = others.filter(decided_at__lt=prescription.decided_at)
    return tuple(_regimen(p, other_of_drug=prescription.drug_id) for p in others)


def review_facts(
    prescription: Prescription, patient: PatientFacts, *, profile=False, guidelines=None
) -> ReviewFacts:
    """What the drug-neutral review reads, in a fixed number of queries; fewer when the
    caller passes the patient's profile (or None) and the drug's dosing guidelines it
    has loaded already."""
    drug = prescription.drug if prescription.drug_id else None
    if guidelines is None:
        guidelines = tuple(drug.dosing_guidelines.all()) if drug else ()
    return ReviewFacts(
        today=timezone.localdate(),
        settings=review_settings(),
        patient=patient,
        profile=profile_state(prescription.patient_id, profile=profile),
        drug_name=drug.name if drug else "",
        regimen=_regimen(prescription) if prescription.formulation_id else None,
        others=_active_others(prescription),
        guidelines=tuple(guidelines),
        purchases=purchases(patient_id=prescription.patient_id, drug_id=prescription.drug_id),
        early_refill_allowed=prescription.early_refill_allowed,
        directions=prescription.directions,
        form=prescription.formulation.form if prescription.formulation_id else "",
        quantity=prescription.quantity,
        refills=prescription.refills,
        date_written=prescription.date_written,
        expiry_date=prescription.expiry_date,
    )


def unanswered_blocks(prescription: Prescription, results: list[CheckResult]) -> list[CheckResult]:
    """Blocking findings on a verified prescription that no pharmacist answered: new
    since its verification (or its last review), and not the patient's to resolve."""
    answered = set(prescription.reviewed_findings)
    return [
        r
        for r in results
        if r.level == Level.BLOCK and r.code not in answered and r.code not in PATIENT_ACTION_CODES
    ]


def _hold(prescription: Prescription, results: list[CheckResult]) -> dict:
    """A verified prescription with a new blocking finding is held until a pharmacist
    looks again; the hold stays if the finding goes, since only a pharmacist lifts it."""
    if prescription.status != Status.VERIFIED:
        return {}
    new = unanswered_blocks(prescription, results)
    if not new:
        return {}
    return {
        "held_since": prescription.held_since or timezone.now(),
        "hold_reason": "; ".join(r.title for r in new) + ".",
    }


def prescription_run_checks(
    prescription: Prescription, *, profile=False, account=None
) -> list[CheckResult]:
    """Refresh the stored check results, and hold a verified prescription on a new
    blocking finding. The caller holds the row (select_for_update).

    The patient's profile and the drug's monograph are read once for all the checks.
    A caller checking several prescriptions of one patient in its transaction may pass
    the profile as `checked_profile` read it there (or None), and the patient's user
    row read there too (`account`); otherwise they are read here.
    """
    if not prescription.patient_id:
        profile = None
    elif profile is False:
        profile = checked_profile(patient_id=prescription.patient_id)
    if account is not None and account.pk != prescription.patient_id:
        account = None
    results = _missing_details(prescription) + _document_reuse(prescription)
    results += identity_findings(prescription, account=account, profile=profile)
    patient = patient_facts(prescription, profile=profile)
    monograph = MonographFacts.load(prescription.drug) if prescription.drug_id else None
    if monograph is not None:
        results += run_checks(
            drug=prescription.drug,
            patient=patient,
            prescription=prescription_facts(prescription),
            today=timezone.localdate(),
            monograph=monograph,
        )
    guidelines = monograph.guidelines if monograph is not None else ()
    results += run_review(
        review_facts(prescription, patient, profile=profile, guidelines=guidelines)
    )
    results.sort(key=lambda r: r.level != Level.BLOCK)
    fields = {
        "check_results": [r.__dict__ for r in results],
        "has_blocking_checks": any(r.level == Level.BLOCK for r in results),
        "checks_run_at": timezone.now(),
        **_hold(prescription, results),
    }
    # A plain update: refreshed findings are not an edit of the prescription's history.
    # The locked row's patient is the one whose pages change.
    Prescription.objects.filter(pk=prescription.pk).update_of([prescription.patient_id], **fields)
    for name, value in fields.items():
        setattr(prescription, name, value)
    return results
