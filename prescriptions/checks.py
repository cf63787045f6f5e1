"""The automatic clinical checks a pharmacist sees before verifying a prescription.

They are pure functions over plain facts (`findings.py`), so they run the same when a
prescription arrives, when a profile changes and in tests, whatever the prescription
and profile models look like. What differs between drugs is read from the drug's
catalog rows (dosing rows, interaction classes, conditions, renal thresholds,
formulations), which staff edit in the admin; only the shape of each rule is code,
and no rule names a drug.

Each rule is one function from a `Context` to its findings, listed once in `RULES`:
a new check is one function and one line.
"""

import re
from collections.abc import Iterator
from datetime import date

from catalog.models import DosageForm, Drug

from . import rules_clinical, rules_dosing
from .findings import (
    ALCOHOL_CLASS,
    CheckResult,
    Context,
    Level,
    PatientFacts,
    PrescriptionFacts,
    Rule,
    block,
    daily_dose_mg,
)
from .monograph import MonographFacts
from .npi import npi_is_valid

__all__ = [
    "ALCOHOL_CLASS",
    "RULES",
    "CheckResult",
    "Level",
    "PatientFacts",
    "PrescriptionFacts",
    "daily_dose_mg",
    "run_checks",
]


def form_not_sold(ctx: Context) -> Iterator[CheckResult]:
    """A form the catalog never sells online (e.g. an intrathecal injection)."""
    form = ctx.prescription.form
    rows = [f for f in ctx.catalog.formulations if f.form == form]
    if rows and not any(f.sellable for f in rows):
        label = DosageForm(form).label if form in DosageForm.values else form
        yield block(
            "form_not_sold",
            f"{label} is never dispensed online",
            f"The catalog marks this form ({label.lower()}) as not sold online.",
            ctx.catalog.quote_form(form),
        )


def prescriber_npi(ctx: Context) -> Iterator[CheckResult]:
    npi = ctx.prescription.prescriber_npi
    if npi_is_valid(npi):
        return
    if not npi:
        detail = "The prescription has no prescriber NPI."
    elif not re.fullmatch(r"[0-9]{10}", npi):
        detail = f"NPI “{npi}” is not 10 digits."
    else:
        detail = f"NPI {npi} fails its check digit: mistyped, or not an NPI."
    yield block(
        "prescriber_npi",
        "Prescriber NPI is not valid",
        detail,
        "CMS NPI standard: 10 digits, the last a Luhn check digit over 80840 and the first 9.",
    )


def prescription_dates(ctx: Context) -> Iterator[CheckResult]:
    rx, today = ctx.prescription, ctx.today
    source = "A prescription is valid from the date it was written until its expiry date."
    if rx.date_written is not None and rx.date_written > today:
        yield block(
            "date_written_future",
            "Date written is in the future",
            f"Written {rx.date_written.isoformat()}; today is {today.isoformat()}.",
            source,
        )
    if rx.expiry_date is not None and rx.expiry_date < today:
        yield block(
            "prescription_expired",
            "Prescription has expired",
            f"Expired {rx.expiry_date.isoformat()}; today is {today.isoformat()}.",
            source,
        )


def age_unknown(ctx: Context) -> Iterator[CheckResult]:
    if ctx.patient.age_years is None:
        yield block(
            "age_unknown",
            "Age unknown: date of birth required",
            "Without a date of birth the dosing row for the patient's age cannot be chosen.",
            ctx.catalog.quote("dosage", ("age",)),
        )


# The review, in the order the pharmacist reads it (blocks are put first afterwards).
RULES: list[Rule] = [
    form_not_sold,
    prescriber_npi,
    prescription_dates,
    age_unknown,
    rules_dosing.not_established,
    rules_dosing.daily_dose,
    rules_dosing.dose_per_administration,
    rules_dosing.starting_dose,
    rules_dosing.titration_speed,
    rules_clinical.kidney,
    rules_clinical.interactions,
    rules_clinical.conditions,
]


def run_checks(
    *,
    drug: Drug,
    patient: PatientFacts,
    prescription: PrescriptionFacts,
    today: date,
    monograph: MonographFacts | None = None,
) -> list[CheckResult]:
    """Every finding for one prescription, blocks first.

    Reads the catalog afresh on each call (a fixed number of queries, whatever the
    rules find), so a rule edited in the admin applies to the next check; a caller
    that has just read it for this check (`MonographFacts.load(drug)`) passes it.
    """
    context = Context(monograph or MonographFacts.load(drug), patient, prescription, today)
    results = [result for rule in RULES for result in rule(context)]
    # sorted() is stable: rule order is kept within each level.
    return sorted(results, key=lambda result: result.level != Level.BLOCK)
