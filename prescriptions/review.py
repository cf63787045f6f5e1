"""The drug-neutral prospective review: what every pharmacy checks for every drug.

The per-drug rules (prescriptions/checks.py) read a drug's catalog rows; these read
nothing drug-specific. Each rule is one function over `ReviewFacts` yielding findings,
listed once in `RULES`, so a new check is one function and one line. The facts are
gathered in a fixed number of queries by prescriptions/services/checks.py.
"""

from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import date, timedelta
from decimal import ROUND_CEILING, Decimal

from catalog.models import DosingGuideline

from .checks import CheckResult, Level, PatientFacts
from .directions import read_directions
from .monograph import age_band, format_mg, oral_guideline_for, row_text

PROFILE_MISSING = "profile_missing"
PROFILE_UNCONFIRMED = "profile_unconfirmed"
# Findings the patient resolves (by completing or confirming the profile), not a
# pharmacist: they stop ordering while they last, but never hold a prescription.
PATIENT_ACTION_CODES = frozenset({PROFILE_MISSING, PROFILE_UNCONFIRMED})


@dataclass(frozen=True)
class ReviewSettings:
    profile_confirm_days: int  # a profile confirmed longer ago than this is stale
    refill_share: Decimal = Decimal("0.75")  # share of a supply used before the next order
    max_days_supply: int = 365  # a prescription's units lasting longer than this is flagged


@dataclass(frozen=True)
class Purchase:
    """Units of the drug the patient ordered (paid, or waiting for payment), and when."""

    on: date
    units: int
    daily_units: Decimal | None  # from the directions of the prescription it used


@dataclass(frozen=True)
class Supply:
    last_order_on: date
    runs_out: date  # the first day without medicine, all orders counted
    refill_from: date  # the first day the next order is not early


def supply_on_hand(purchases: tuple[Purchase, ...], *, share: Decimal) -> Supply | None:
    """When the patient's supply runs out, and from when the next order is not early.

    Each order lasts its units over the daily units of its directions, in whole days,
    and starts when the one before runs out (medicine bought early is used after what
    is on hand). The next order is early until `share` of the last one is used.
    """
    covered_until = last = None
    for purchase in sorted(purchases, key=lambda p: p.on):
        if not purchase.daily_units or purchase.daily_units <= 0:
            continue
        days = int(Decimal(purchase.units) // purchase.daily_units)
        start = max(purchase.on, covered_until) if covered_until else purchase.on
        covered_until = start + timedelta(days=days)
        last = (purchase, start, days)
    if last is None:
        return None
    purchase, start, days = last
    wait = int((share * days).to_integral_value(rounding=ROUND_CEILING))
    return Supply(
        last_order_on=purchase.on,
        runs_out=covered_until,
        refill_from=start + timedelta(days=wait),
    )


def long_date(day: date) -> str:
    return f"{day:%B} {day.day}, {day.year}"


@dataclass(frozen=True)
class ProfileState:
    exists: bool
    confirmed_on: date | None  # the day the patient last saved or confirmed it


@dataclass(frozen=True)
class RegimenFacts:
    """One prescription's regimen: the one under review, or another active one."""

    pk: int | None
    label: str  # "#12 Baclofen 10 mg tablet"
    strength_mg: Decimal | None
    units_per_dose: Decimal | None
    doses_per_day: int | None
    same_drug: bool = True  # False: another drug of the same therapeutic class
    class_name: str = ""
    units_left: int = 0

    @property
    def daily_mg(self) -> Decimal | None:
        if None in (self.strength_mg, self.units_per_dose, self.doses_per_day):
            return None
        return self.strength_mg * self.units_per_dose * self.doses_per_day or None

    def describe(self) -> str:
        dose = f"{format_mg(self.units_per_dose)} × {self.doses_per_day} a day"
        if self.units_per_dose is None or self.doses_per_day is None:
            dose = "directions unknown"
        mg = f" ({format_mg(self.daily_mg)} mg/day)" if self.daily_mg else ""
        return f"{self.label}: {dose}{mg}, {self.units_left} units left"


@dataclass(frozen=True)
class ReviewFacts:
    today: date
    settings: ReviewSettings
    patient: PatientFacts
    profile: ProfileState
    drug_name: str = ""
    regimen: RegimenFacts | None = None  # None until a drug and form are filled in
    # The patient's other active (verified, unexpired, units left) prescriptions of the
    # same drug or class; for a verified prescription, those verified before it.
    others: tuple[RegimenFacts, ...] = ()
    guidelines: tuple[DosingGuideline, ...] = ()  # the drug's dosing rows
    purchases: tuple[Purchase, ...] = ()  # the patient's orders of this drug
    early_refill_allowed: bool = False
    directions: str = ""
    form: str = ""  # catalog.DosageForm value
    quantity: int | None = None
    refills: int = 0
    date_written: date | None = None
    expiry_date: date | None = None


Rule = Callable[[ReviewFacts], Iterator[CheckResult]]


def profile_problem(profile: ProfileState, *, today: date, confirm_days: int) -> str | None:
    """Why the profile cannot be relied on, as the patient reads it; None when it can."""
    if not profile.exists:
        return "You have not filled in your medical profile yet."
    if profile.confirmed_on is None or (today - profile.confirmed_on).days > confirm_days:
        since = (
            f"since {profile.confirmed_on:%B} {profile.confirmed_on.day}, {profile.confirmed_on.year}"
            if profile.confirmed_on
            else "yet"
        )
        return f"You have not confirmed your medical profile {since}; please check it is still correct."
    return None


def profile_confirmation(facts: ReviewFacts) -> Iterator[CheckResult]:
    """A missing or stale profile means allergies, kidneys and medicines were never screened."""
    source = (
        "Every prescription is screened against a medical profile the patient completed, "
        f"confirmed within the last {facts.settings.profile_confirm_days} days."
    )
    profile = facts.profile
    if not profile.exists:
        yield CheckResult(
            PROFILE_MISSING,
            Level.BLOCK,
            "No medical profile: allergies, conditions and medicines unscreened",
            "The patient has not filled in a medical profile; they are asked to complete it.",
            source,
        )
        return
    if profile_problem(
        profile, today=facts.today, confirm_days=facts.settings.profile_confirm_days
    ):
        when = profile.confirmed_on.isoformat() if profile.confirmed_on else "never"
        yield CheckResult(
            PROFILE_UNCONFIRMED,
            Level.BLOCK,
            "Medical profile not confirmed recently",
            f"Last confirmed: {when}; the patient is asked to confirm it is still correct.",
            source,
        )


@dataclass(frozen=True)
class DailyMaximum:
    mg: Decimal
    band: str  # "Adults (oral), ages 18+"
    source: str


def daily_maximum(
    guidelines: tuple[DosingGuideline, ...], patient: PatientFacts
) -> DailyMaximum | None:
    """The age band's maximum, read as the per-drug dose check reads it; by weight
    (mg/kg/day x kg) where the band is dosed by weight and that is lower."""
    if patient.age_years is None:
        return None
    row = oral_guideline_for(guidelines, patient.age_years)
    if row is None:
        return None
    band = f"{row.patient_group}, {age_band(row)}"
    limits = []
    if row.max_daily_mg is not None:
        limits.append(DailyMaximum(row.max_daily_mg, band, row_text(row, "maximum")))
    weight = patient.weight_kg
    if row.max_mg_per_kg_day is not None and weight and weight > 0:
        limits.append(
            DailyMaximum(
                row.max_mg_per_kg_day * weight,
                f"{band}, {format_mg(row.max_mg_per_kg_day)} mg/kg/day × {format_mg(weight)} kg",
                row_text(row, "initial"),
            )
        )
    return min(limits, key=lambda limit: limit.mg) if limits else None


DUPLICATE_SOURCE = (
    "Duplicate therapy: a patient takes one prescription of a drug, or of a therapeutic "
    "class, at a time unless the prescriber intends otherwise; the combined dose stays "
    "within the maximum."
)


def duplicate_therapy(facts: ReviewFacts) -> Iterator[CheckResult]:
    """Another active prescription of the same drug or class: the pharmacist sees which."""
    if not facts.others or facts.regimen is None:
        return
    same = [o for o in facts.others if o.same_drug]
    if same:
        title = f"Duplicate therapy: another active prescription of {facts.drug_name}"
    else:
        title = f"Duplicate therapy: another active {facts.others[0].class_name} prescription"
    combined = _combined_mg(facts)
    total = f" Combined {facts.drug_name} dose: {format_mg(combined)} mg/day." if combined else ""
    yield CheckResult(
        "duplicate_therapy",
        Level.WARN,
        title,
        "Also active: " + "; ".join(o.describe() for o in facts.others) + "." + total,
        DUPLICATE_SOURCE,
    )


def _combined_mg(facts: ReviewFacts) -> Decimal | None:
    """This prescription's mg/day with the other active ones of the same drug."""
    same = [o.daily_mg for o in facts.others if o.same_drug and o.daily_mg]
    if not same or facts.regimen is None or facts.regimen.daily_mg is None:
        return None
    return facts.regimen.daily_mg + sum(same)


def combined_daily_dose(facts: ReviewFacts) -> Iterator[CheckResult]:
    combined = _combined_mg(facts)
    limit = daily_maximum(facts.guidelines, facts.patient)
    if combined is None or limit is None or combined <= limit.mg:
        return
    parts = [f"this prescription {format_mg(facts.regimen.daily_mg)}"] + [
        f"{o.label} {format_mg(o.daily_mg)}" for o in facts.others if o.same_drug and o.daily_mg
    ]
    yield CheckResult(
        "combined_daily_dose",
        Level.BLOCK,
        "Combined daily dose above the maximum",
        f"{format_mg(combined)} mg/day in total ({' + '.join(parts)} mg/day); the maximum "
        f"for {limit.band} is {format_mg(limit.mg)} mg/day.",
        limit.source,
    )


def early_refill(facts: ReviewFacts) -> Iterator[CheckResult]:
    """Supply still on hand from earlier orders: the next one would be early."""
    share = facts.settings.refill_share
    if share <= 0:
        return  # turned off
    supply = supply_on_hand(facts.purchases, share=share)
    if supply is None or facts.today >= supply.refill_from or facts.early_refill_allowed:
        return
    yield CheckResult(
        "early_refill",
        Level.WARN,
        "Early refill: supply still on hand",
        f"The patient's orders of {facts.drug_name} (the last on "
        f"{supply.last_order_on.isoformat()}) run out on {supply.runs_out.isoformat()}; "
        f"the next order is due from {supply.refill_from.isoformat()}. Checkout refuses an "
        "earlier one unless a pharmacist allows an early refill on the prescription.",
        f"Refill policy: the next order once {share * 100:.0f}% of the previous supply is used, "
        "counted from the directions and the units bought.",
    )


LIQUID_FORMS = frozenset({"oral_solution", "solution", "suspension", "syrup"})


def _regimen_words(units: Decimal | None, doses: int | None) -> str:
    parts = []
    if units is not None:
        parts.append(f"{format_mg(units)} per dose")
    if doses is not None:
        parts.append(f"{doses} time{'s' if doses != 1 else ''} a day")
    return ", ".join(parts)


def directions_mismatch(facts: ReviewFacts) -> Iterator[CheckResult]:
    """The directions text states a dose or frequency the structured fields do not: the
    label the patient follows and the dose that was checked differ. Silent when the
    text cannot be read for a number."""
    regimen = facts.regimen
    if regimen is None or not facts.directions.strip():
        return
    read = read_directions(facts.directions, liquid=facts.form in LIQUID_FORMS)
    units = read.units_per_dose
    units_differ = units is not None and regimen.units_per_dose is not None
    units_differ = units_differ and units != regimen.units_per_dose
    doses = read.doses_per_day
    doses_differ = doses is not None and regimen.doses_per_day is not None
    doses_differ = doses_differ and doses != regimen.doses_per_day
    if not (units_differ or doses_differ):
        return
    said = _regimen_words(units, doses)
    fields = _regimen_words(
        regimen.units_per_dose if units is not None else None,
        regimen.doses_per_day if doses is not None else None,
    )
    yield CheckResult(
        "directions_mismatch",
        Level.BLOCK,
        "Directions text differs from the structured dose",
        f"The directions “{facts.directions}” say {said}; the structured fields say {fields}.",
        "The directions the patient follows must state the dose that was checked.",
    )


DAYS_SUPPLY_SOURCE = (
    "Days supply: quantity × (1 + refills) ÷ (units per dose × doses per day) should "
    "end within the prescription's validity and within a year."
)


def days_supply(facts: ReviewFacts) -> Iterator[CheckResult]:
    """How long the authorised units last at the directions: a supply that outlasts the
    prescription or a year is a mistyped quantity, refills or dose, or stockpiling."""
    regimen = facts.regimen
    if regimen is None or not facts.quantity or not regimen.units_per_dose:
        return
    daily = regimen.units_per_dose * (regimen.doses_per_day or 0)
    if daily <= 0:
        return
    total = facts.quantity * (1 + facts.refills)
    days = int(Decimal(total) // daily)
    supply = (
        f"{facts.quantity} × (1 + {facts.refills}) = {total} units at {format_mg(daily)} a day "
        f"last {days} days"
    )
    if facts.date_written and facts.expiry_date:
        valid = (facts.expiry_date - facts.date_written).days
        if days > valid:
            yield CheckResult(
                "days_supply_beyond_expiry",
                Level.WARN,
                "Supply lasts beyond the prescription's expiry",
                f"{supply}; the prescription is valid for {valid} days (until "
                f"{facts.expiry_date.isoformat()}).",
                DAYS_SUPPLY_SOURCE,
            )
    limit = facts.settings.max_days_supply
    if days > limit:
        yield CheckResult(
            "days_supply_over_limit",
            Level.WARN,
            f"Supply for more than {limit} days",
            f"{supply}, more than {limit}.",
            DAYS_SUPPLY_SOURCE,
        )


RULES: list[Rule] = [
    profile_confirmation,
    duplicate_therapy,
    combined_daily_dose,
    early_refill,
    directions_mismatch,
    days_supply,
]


def run_review(facts: ReviewFacts) -> list[CheckResult]:
    """Every drug-neutral finding, in rule order."""
    return [result for rule in RULES for result in rule(facts)]
