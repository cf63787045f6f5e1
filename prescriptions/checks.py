"""The automatic clinical checks a pharmacist sees before verifying a prescription.

They are pure functions over plain facts, so they run the same when a prescription
arrives, when a profile changes and in tests, whatever the prescription and profile
models look like. Every threshold is read from the drug's catalog rows (dosing table,
interactions, monograph text), so catalog staff change a check by editing the
monograph in the admin; only the shape of each rule is code.
"""

import re
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import date
from decimal import Decimal

from django.db import models
from django.utils.text import slugify

from catalog.models import DosageForm, DosingGuideline, Drug, Severity

from .monograph import MonographFacts, age_band, format_mg, row_text
from .npi import npi_is_valid

# Rule shapes the monograph states in words rather than numbers.
STARTING_DOSE_FACTOR = 2  # "far above the titration start": more than twice it
ELDERLY_AGE_YEARS = 65  # the monograph says "elderly patients"; the pharmacy flags 65+
ALCOHOL_CLASS = "alcohol"  # the medication class a patient's alcohol use counts as

KIDNEY_CHRONIC = "chronic"
KIDNEY_END_STAGE = "end_stage"
ALCOHOL_NONE = "none"


class Level(models.TextChoices):
    BLOCK = "block", "Block"
    WARN = "warn", "Warn"


@dataclass(frozen=True)
class PatientFacts:
    age_years: int | None  # at the date written (None: no date of birth on file)
    weight_kg: Decimal | None
    kidney_disease: str  # "none" | "chronic" | "end_stage"
    pregnant: bool
    breastfeeding: bool
    medication_classes: frozenset[str]  # slugs of catalog.MedicationClass
    other_medications: str  # free text, shown, not interpreted
    alcohol_use: str  # "none" | "occasional" | "regular"
    active_peptic_ulcer: bool
    epilepsy: bool
    psychiatric_disorder: bool
    hypersensitive_to_drug: bool
    has_earlier_prescription: bool  # an earlier verified prescription of this drug exists


@dataclass(frozen=True)
class PrescriptionFacts:
    form: str  # catalog.DosageForm value
    strength_mg: Decimal | None  # mg per unit (tablet); None if unknown
    units_per_dose: Decimal | None
    doses_per_day: int | None
    prescriber_npi: str
    date_written: date | None
    expiry_date: date | None


@dataclass(frozen=True)
class CheckResult:
    code: str  # stable identifier, e.g. "max_daily_dose"
    level: str  # Level.BLOCK or Level.WARN
    title: str
    detail: str  # names the numbers
    source: str  # the monograph text the rule comes from


def daily_dose_mg(prescription: PrescriptionFacts) -> Decimal | None:
    """None rather than a guess: a dose that cannot be computed cannot be checked."""
    rx = prescription
    if rx.strength_mg is None or rx.units_per_dose is None or rx.doses_per_day is None:
        return None
    dose = rx.units_per_dose * rx.strength_mg * rx.doses_per_day
    return dose if dose > 0 else None


def run_checks(
    *, drug: Drug, patient: PatientFacts, prescription: PrescriptionFacts, today: date
) -> list[CheckResult]:
    """Every finding for one prescription, blocks first.

    Reads the catalog afresh on each call (four queries, whatever the rules find), so
    a threshold edited in the admin applies to the next check.
    """
    catalog = MonographFacts.load(drug)
    results = [
        *_form_checks(catalog, prescription),
        *_prescriber_checks(prescription),
        *_date_checks(prescription, today),
        *_age_checks(catalog, patient),
        *_dose_checks(catalog, patient, prescription),
        *_kidney_checks(catalog, patient),
        *_interaction_checks(catalog, patient),
        *_condition_checks(catalog, patient),
    ]
    # sorted() is stable: rule order is kept within each level.
    return sorted(results, key=lambda result: result.level != Level.BLOCK)


def _block(code: str, title: str, detail: str, source: str) -> CheckResult:
    return CheckResult(code, Level.BLOCK, title, detail, source)


def _warn(code: str, title: str, detail: str, source: str) -> CheckResult:
    return CheckResult(code, Level.WARN, title, detail, source)


def _form_checks(c: MonographFacts, rx: PrescriptionFacts) -> Iterator[CheckResult]:
    if rx.form == DosageForm.INTRATHECAL:
        yield _block(
            "intrathecal",
            "Intrathecal form is never dispensed online",
            "Intrathecal therapy is given through an implanted pump under specialist care.",
            c.quote("forms", ("intrathecal",)),
        )


def _prescriber_checks(rx: PrescriptionFacts) -> Iterator[CheckResult]:
    npi = rx.prescriber_npi
    if npi_is_valid(npi):
        return
    if not npi:
        detail = "The prescription has no prescriber NPI."
    elif not re.fullmatch(r"[0-9]{10}", npi):
        detail = f"NPI “{npi}” is not 10 digits."
    else:
        detail = f"NPI {npi} fails its check digit: mistyped, or not an NPI."
    yield _block(
        "prescriber_npi",
        "Prescriber NPI is not valid",
        detail,
        "CMS NPI standard: 10 digits, the last a Luhn check digit over 80840 and the first 9.",
    )


def _date_checks(rx: PrescriptionFacts, today: date) -> Iterator[CheckResult]:
    source = "A prescription is valid from the date it was written until its expiry date."
    if rx.date_written is not None and rx.date_written > today:
        yield _block(
            "date_written_future",
            "Date written is in the future",
            f"Written {rx.date_written.isoformat()}; today is {today.isoformat()}.",
            source,
        )
    if rx.expiry_date is not None and rx.expiry_date < today:
        yield _block(
            "prescription_expired",
            "Prescription has expired",
            f"Expired {rx.expiry_date.isoformat()}; today is {today.isoformat()}.",
            source,
        )


def _age_checks(c: MonographFacts, patient: PatientFacts) -> Iterator[CheckResult]:
    if patient.age_years is None:
        yield _block(
            "age_unknown",
            "Age unknown: date of birth required",
            "Without a date of birth the dosing row for the patient's age cannot be chosen.",
            c.quote("dosage", ("age",)),
        )


def _dose_checks(
    c: MonographFacts, patient: PatientFacts, rx: PrescriptionFacts
) -> Iterator[CheckResult]:
    if rx.form == DosageForm.INTRATHECAL:
        return  # the oral dosing table does not apply, and the form is blocked anyway
    dose = daily_dose_mg(rx)
    if dose is None:
        yield _warn(
            "daily_dose_unknown",
            "Daily dose could not be computed",
            "Strength, units per dose or doses per day is missing, so the dose was not "
            "checked against the dosing table.",
            c.quote("dosage", ("dosage",)),
        )
    if patient.age_years is None:
        return  # _age_checks blocks it; no dosing row can be chosen
    row = c.oral_guideline_for(patient.age_years)
    if row is None:
        yield _warn(
            "no_dosing_guideline",
            "No dosing guideline for this age",
            f"The dosing table has no oral row for age {patient.age_years}.",
            c.quote("dosage", ("age",)),
        )
        return
    yield from _weight_checks(c, patient, row, dose)
    if row.max_daily_mg is not None and dose is not None and dose > row.max_daily_mg:
        yield _block(
            "max_daily_dose",
            f"Daily dose above the maximum for {age_band(row)}",
            f"{format_mg(dose)} mg/day prescribed; maximum for {row.patient_group}, {age_band(row)}, "
            f"is {format_mg(row.max_daily_mg)} mg/day.",
            row_text(row, "maximum"),
        )
    start = row.initial_daily_mg
    if (
        not patient.has_earlier_prescription
        and start is not None
        and dose is not None
        and dose > STARTING_DOSE_FACTOR * start
    ):
        yield _warn(
            "starting_dose_high",
            "Starting dose far above the titration start",
            f"{format_mg(dose)} mg/day prescribed with no earlier prescription; the start for "
            f"{age_band(row)} is {format_mg(start)} mg/day ({row.initial_dose}), and this is more "
            f"than {STARTING_DOSE_FACTOR}× that. Titration: {row.titration}.",
            row_text(row, "initial", "titration"),
        )


def _weight_checks(
    c: MonographFacts, patient: PatientFacts, row: DosingGuideline, dose: Decimal | None
) -> Iterator[CheckResult]:
    """A row dosed in mg/kg/day is the off-label pediatric one: it needs the weight."""
    if row.min_mg_per_kg_day is None and row.max_mg_per_kg_day is None:
        return
    yield _warn(
        "off_label_pediatric",
        f"Off-label use, {age_band(row)}",
        f"The patient is {patient.age_years}; {c.drug_name} is dosed by body weight "
        "under specialist supervision.",
        c.quote("special populations", ("off-label",)),
    )
    weight = patient.weight_kg
    if weight is None or weight <= 0:
        yield _block(
            "weight_required",
            f"Weight required for dosing {age_band(row)}",
            "No weight on file; the dose for this age group is set per kg of body weight.",
            row_text(row, "initial"),
        )
        return
    if row.max_mg_per_kg_day is not None and dose is not None:
        limit = row.max_mg_per_kg_day * weight
        if dose > limit:
            yield _block(
                "max_daily_dose_by_weight",
                "Daily dose above the maximum for the weight",
                f"{format_mg(dose)} mg/day prescribed; maximum is {format_mg(row.max_mg_per_kg_day)} "
                f"mg/kg/day × {format_mg(weight)} kg = {format_mg(limit)} mg/day.",
                row_text(row, "initial"),
            )


def _kidney_checks(c: MonographFacts, patient: PatientFacts) -> Iterator[CheckResult]:
    if patient.kidney_disease not in (KIDNEY_CHRONIC, KIDNEY_END_STAGE):
        return
    source = c.quote("special populations", ("kidney", "renal"))
    if patient.kidney_disease == KIDNEY_CHRONIC:
        yield _warn(
            "kidney_chronic",
            "Chronic kidney disease: dose reduction essential",
            f"{c.drug_name} is excreted by the kidneys and may accumulate; check the dose "
            "is reduced.",
            source,
        )
    else:
        yield _block(
            "kidney_end_stage",
            "End-stage kidney disease: avoid",
            f"{c.drug_name} should be avoided in end-stage kidney disease.",
            source,
        )


_LEVEL_BY_SEVERITY = {Severity.MAJOR: Level.BLOCK}
_TITLE_BY_SEVERITY = {
    Severity.MAJOR: "Major interaction with {}",
    Severity.MODERATE: "Moderate interaction with {}",
    Severity.MONITOR: "{}: monitoring required",
}


def _interaction_checks(c: MonographFacts, patient: PatientFacts) -> Iterator[CheckResult]:
    taking = set(patient.medication_classes)
    drinks = patient.alcohol_use != ALCOHOL_NONE
    if drinks:
        taking.add(ALCOHOL_CLASS)
    for interaction in c.interactions:
        hits = [m for m in interaction.medication_classes.all() if m.slug in taking]
        if not hits:
            continue
        names = [
            f"{m.name} ({patient.alcohol_use} use)"
            if m.slug == ALCOHOL_CLASS
            and drinks
            and ALCOHOL_CLASS not in patient.medication_classes
            else m.name
            for m in hits
        ]
        title = _TITLE_BY_SEVERITY.get(interaction.severity, "Interaction with {}")
        yield CheckResult(
            f"interaction_{slugify(interaction.name).replace('-', '_') or interaction.pk}",
            _LEVEL_BY_SEVERITY.get(interaction.severity, Level.WARN),
            title.format(interaction.name),
            f"On the patient's profile: {', '.join(names)}.",
            f"{interaction.name}: {interaction.effect}",
        )


def _condition_checks(c: MonographFacts, patient: PatientFacts) -> Iterator[CheckResult]:
    name = c.drug_name
    if patient.hypersensitive_to_drug:
        yield _block(
            "hypersensitivity",
            f"Known hypersensitivity to {name}",
            f"The profile records a hypersensitivity to {name}.",
            c.quote("contraindications", ("hypersensitivity",)),
        )
    if patient.active_peptic_ulcer:
        yield _block(
            "peptic_ulcer",
            "Active peptic ulcer disease",
            f"The profile records active peptic ulcer disease; {name} should be avoided.",
            c.quote("contraindications", ("peptic ulcer",)),
        )
    if patient.epilepsy:
        yield _warn(
            "epilepsy",
            "Epilepsy: extra monitoring",
            f"Epilepsy on file; {name} may exacerbate symptoms in some patients.",
            c.quote("contraindications", ("epilepsy",)),
        )
    if patient.psychiatric_disorder:
        yield _warn(
            "psychiatric_disorder",
            "Psychiatric disorder: extra monitoring",
            f"Psychiatric disorder on file; {name} may exacerbate symptoms in some patients.",
            c.quote("contraindications", ("psychiatric",)),
        )
    if patient.pregnant:
        yield _warn(
            "pregnancy",
            "Pregnancy",
            "The patient is pregnant: use only if the benefit outweighs the risk.",
            c.quote("pregnancy", ("pregnan",)),
        )
    if patient.breastfeeding:
        yield _warn(
            "breastfeeding",
            "Breastfeeding",
            f"The patient is breastfeeding; {name} passes into breast milk.",
            c.quote("breastfeeding", ("breastfeeding", "breast milk")),
        )
    if patient.age_years is not None and patient.age_years >= ELDERLY_AGE_YEARS:
        yield _warn(
            "elderly",
            f"Age {ELDERLY_AGE_YEARS} or over: start low, fall risk",
            f"The patient is {patient.age_years}; more sensitive to sedation and at risk "
            "of falls, so start low and titrate carefully.",
            c.quote("special populations", ("elderly",)),
        )
