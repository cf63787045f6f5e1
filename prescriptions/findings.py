"""The facts the clinical checks read and the findings they give, shared by every rule.

Kept apart from the rules so that rule modules depend on it and the registry in
`checks.py` depends on them, with no cycle.
"""

import re
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import date
from decimal import Decimal

from django.db import models

from catalog.models import BLOCKING_SEVERITIES

from .monograph import MonographFacts

ALCOHOL_CLASS = "alcohol"  # the medication class a patient's alcohol use counts as
ALCOHOL_NONE = "none"


class Level(models.TextChoices):
    BLOCK = "block", "Block"
    WARN = "warn", "Warn"


@dataclass(frozen=True)
class PatientFacts:
    age_years: int | None  # at the date written (None: no date of birth on file)
    weight_kg: Decimal | None
    # The profile's answers; None is "not answered", which the rules read as unknown.
    kidney_disease: str | None  # "none" | "chronic" | "end_stage"
    pregnant: bool | None
    breastfeeding: bool | None
    medication_classes: frozenset[str]  # slugs of catalog.MedicationClass
    other_medications: str  # free text, matched against the classes' substances
    alcohol_use: str | None  # "none" | "occasional" | "regular"
    active_peptic_ulcer: bool | None
    epilepsy: bool | None
    psychiatric_disorder: bool | None
    hypersensitive_to_drug: bool
    has_earlier_prescription: bool  # an earlier verified prescription of this drug exists
    hepatic_impairment: bool | None = False
    egfr: Decimal | None = None  # mL/min/1.73 m², if the patient knows it
    creatinine_clearance: Decimal | None = None  # mL/min, if the patient knows it
    # The patient's latest other verified prescription of this drug, for titration.
    previous_daily_mg: Decimal | None = None
    previous_date_written: date | None = None


@dataclass(frozen=True)
class PrescriptionFacts:
    form: str  # catalog.DosageForm value
    strength_mg: Decimal | None  # mg per unit (tablet); None if unknown
    units_per_dose: Decimal | None
    doses_per_day: int | None
    prescriber_npi: str
    date_written: date | None
    expiry_date: date | None
    mg_per_ml: Decimal | None = None  # liquid forms: the concentration; units are mL


@dataclass(frozen=True)
class CheckResult:
    code: str  # stable identifier, e.g. "max_daily_dose"
    level: str  # Level.BLOCK or Level.WARN
    title: str
    detail: str  # names the numbers
    source: str  # the monograph text the rule comes from


@dataclass(frozen=True)
class Context:
    """Everything a rule may read: the drug's rows, the patient, the prescription."""

    catalog: MonographFacts
    patient: PatientFacts
    prescription: PrescriptionFacts
    today: date


Rule = Callable[[Context], Iterable[CheckResult]]


def level_for(severity: str) -> str:
    return Level.BLOCK if severity in BLOCKING_SEVERITIES else Level.WARN


def mg_per_unit(rx: PrescriptionFacts) -> Decimal | None:
    """mg in one unit: a tablet's strength, or for a liquid the mg in one mL."""
    return rx.strength_mg if rx.strength_mg is not None else rx.mg_per_ml


def dose_mg(prescription: PrescriptionFacts) -> Decimal | None:
    """mg in one administration; None rather than a guess."""
    rx, per_unit = prescription, mg_per_unit(prescription)
    if per_unit is None or rx.units_per_dose is None:
        return None
    dose = rx.units_per_dose * per_unit
    return dose if dose > 0 else None


def daily_dose_mg(prescription: PrescriptionFacts) -> Decimal | None:
    """None rather than a guess: a dose that cannot be computed cannot be checked."""
    dose = dose_mg(prescription)
    if dose is None or prescription.doses_per_day is None:
        return None
    return dose * prescription.doses_per_day


def liquid_note(rx: PrescriptionFacts) -> str:
    """How a dose in mL became mg, for the finding's detail; empty for tablets."""
    if rx.strength_mg is not None or rx.mg_per_ml is None or rx.units_per_dose is None:
        return ""
    return f" ({rx.units_per_dose.normalize():f} mL at {rx.mg_per_ml.normalize():f} mg/mL)"


def mentions(text: str, term: str) -> bool:
    """`term` as a whole word or phrase in `text`, ignoring case: "oxycodone 10 mg"
    mentions oxycodone, "Oxycontin" does not mention "oxycodone"."""
    pattern = r"(?<!\w)" + r"\s+".join(map(re.escape, term.split())) + r"(?!\w)"
    return re.search(pattern, text, re.IGNORECASE) is not None


def block(code: str, title: str, detail: str, source: str) -> CheckResult:
    return CheckResult(code, Level.BLOCK, title, detail, source)


def warn(code: str, title: str, detail: str, source: str) -> CheckResult:
    return CheckResult(code, Level.WARN, title, detail, source)
