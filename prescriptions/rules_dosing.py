"""Dose rules, read from the drug's dosing rows (one row per age band and route)."""

from collections.abc import Iterator
from decimal import Decimal

from catalog.models import DosageForm, DosingGuideline

from .findings import (
    CheckResult,
    Context,
    PatientFacts,
    block,
    daily_dose_mg,
    dose_mg,
    liquid_note,
    warn,
)
from .monograph import MonographFacts, age_band, format_mg, row_text

# Rule shapes the monograph states in words rather than numbers.
STARTING_DOSE_FACTOR = 2  # "far above the titration start": more than twice it


def daily_dose(ctx: Context) -> Iterator[CheckResult]:
    """The daily dose against the patient's age band: its maximum, or mg/kg/day."""
    c, patient, rx = ctx.catalog, ctx.patient, ctx.prescription
    if rx.form == DosageForm.INTRATHECAL:
        return  # the oral dosing table does not apply, and the form is blocked anyway
    dose = daily_dose_mg(rx)
    if dose is None:
        yield warn(
            "daily_dose_unknown",
            "Daily dose could not be computed",
            "Strength (or a liquid's concentration), units per dose or doses per day is "
            "missing, so the dose was not checked against the dosing table.",
            c.quote("dosage", ("dosage",)),
        )
    if patient.age_years is None:
        return  # age_unknown blocks it; no dosing row can be chosen
    row = c.oral_guideline_for(patient.age_years)
    if row is None:
        yield warn(
            "no_dosing_guideline",
            "No dosing guideline for this age",
            f"The dosing table has no oral row for age {patient.age_years}.",
            c.quote("dosage", ("age",)),
        )
        return
    yield from _weight_checks(c, patient, row, dose)
    if row.max_daily_mg is not None and dose is not None and dose > row.max_daily_mg:
        yield block(
            "max_daily_dose",
            f"Daily dose above the maximum for {age_band(row)}",
            f"{format_mg(dose)} mg/day prescribed{_a_day(rx)}; maximum for "
            f"{row.patient_group}, {age_band(row)}, is {format_mg(row.max_daily_mg)} mg/day.",
            row_text(row, "maximum"),
        )


def _a_day(rx) -> str:
    note = liquid_note(rx)
    return f"{note[:-1]} × {rx.doses_per_day} a day)" if note else ""


def _row_for(ctx: Context) -> DosingGuideline | None:
    if ctx.patient.age_years is None or ctx.prescription.form == DosageForm.INTRATHECAL:
        return None
    return ctx.catalog.oral_guideline_for(ctx.patient.age_years)


def not_established(ctx: Context) -> Iterator[CheckResult]:
    """An age band in which the monograph says safety is not established."""
    row = _row_for(ctx)
    if row is not None and row.not_established:
        yield block(
            "not_established",
            f"Not established for {age_band(row)}",
            f"The patient is {ctx.patient.age_years}; the monograph does not establish "
            f"{ctx.catalog.drug_name} as safe and effective for {row.patient_group}.",
            row.source or row_text(row, "initial", "maximum"),
        )


def dose_per_administration(ctx: Context) -> Iterator[CheckResult]:
    """mg in one dose and doses a day against the row's limits, whatever the form."""
    row, rx = _row_for(ctx), ctx.prescription
    if row is None:
        return
    dose = dose_mg(rx)
    if row.max_dose_mg is not None and dose is not None and dose > row.max_dose_mg:
        yield block(
            "max_single_dose",
            f"Single dose above the maximum for {age_band(row)}",
            f"{format_mg(dose)} mg per dose prescribed{liquid_note(rx)}; the most in one "
            f"dose for {row.patient_group} is {format_mg(row.max_dose_mg)} mg.",
            row_text(row, "maximum"),
        )
    limit = row.max_doses_per_day
    if limit is not None and rx.doses_per_day is not None and rx.doses_per_day > limit:
        yield block(
            "max_doses_per_day",
            f"More than {limit} doses a day",
            f"{rx.doses_per_day} doses a day prescribed; the monograph allows no more than "
            f"{limit} for {row.patient_group}.",
            row_text(row, "maximum"),
        )


def titration_speed(ctx: Context) -> Iterator[CheckResult]:
    """Against the patient's previous verified prescription of the drug: the dose may
    rise by the row's step on each dose once per interval, no faster."""
    row, rx, patient = _row_for(ctx), ctx.prescription, ctx.patient
    if row is None or row.titration_step_mg is None or not row.titration_interval_days:
        return
    before, since = patient.previous_daily_mg, patient.previous_date_written
    now = daily_dose_mg(rx)
    if None in (before, since, now, rx.date_written, rx.doses_per_day) or now <= before:
        return
    days = max((rx.date_written - since).days, 0)
    steps = days // row.titration_interval_days
    allowed = row.titration_step_mg * steps * rx.doses_per_day
    if now - before <= allowed:
        return
    yield warn(
        "titration_too_fast",
        "Dose raised faster than the titration",
        f"{format_mg(before)} mg/day on the prescription of {since.isoformat()}, "
        f"{format_mg(now)} mg/day now, {days} days later: up {format_mg(now - before)} "
        f"mg/day. The titration allows {format_mg(row.titration_step_mg)} mg more per dose "
        f"every {row.titration_interval_days} days: at most {format_mg(allowed)} mg/day more "
        f"({steps} steps × {format_mg(row.titration_step_mg)} mg × {rx.doses_per_day} doses).",
        row_text(row, "titration"),
    )


def starting_dose(ctx: Context) -> Iterator[CheckResult]:
    """A first prescription far above the row's starting dose skips the titration."""
    patient, rx = ctx.patient, ctx.prescription
    if patient.age_years is None or patient.has_earlier_prescription:
        return
    row = ctx.catalog.oral_guideline_for(patient.age_years)
    dose = daily_dose_mg(rx)
    start = row.initial_daily_mg if row else None
    if start is not None and dose is not None and dose > STARTING_DOSE_FACTOR * start:
        yield warn(
            "starting_dose_high",
            "Starting dose far above the titration start",
            f"{format_mg(dose)} mg/day prescribed with no earlier prescription; the start for "
            f"{age_band(row)} is {format_mg(start)} mg/day ({row.initial_dose}), and this is "
            f"more than {STARTING_DOSE_FACTOR}× that. Titration: {row.titration}.",
            row_text(row, "initial", "titration"),
        )


def _weight_checks(
    c: MonographFacts, patient: PatientFacts, row: DosingGuideline, dose: Decimal | None
) -> Iterator[CheckResult]:
    """A row dosed in mg/kg/day is the off-label pediatric one: it needs the weight."""
    if row.min_mg_per_kg_day is None and row.max_mg_per_kg_day is None:
        return
    yield warn(
        "off_label_pediatric",
        f"Off-label use, {age_band(row)}",
        f"The patient is {patient.age_years}; {c.drug_name} is dosed by body weight "
        "under specialist supervision.",
        c.quote("special populations", ("off-label",)),
    )
    weight = patient.weight_kg
    if weight is None or weight <= 0:
        yield block(
            "weight_required",
            f"Weight required for dosing {age_band(row)}",
            "No weight on file; the dose for this age group is set per kg of body weight.",
            row_text(row, "initial"),
        )
        return
    if row.max_mg_per_kg_day is not None and dose is not None:
        limit = row.max_mg_per_kg_day * weight
        if dose > limit:
            yield block(
                "max_daily_dose_by_weight",
                "Daily dose above the maximum for the weight",
                f"{format_mg(dose)} mg/day prescribed; maximum is "
                f"{format_mg(row.max_mg_per_kg_day)} mg/kg/day × {format_mg(weight)} kg = "
                f"{format_mg(limit)} mg/day.",
                row_text(row, "initial"),
            )
