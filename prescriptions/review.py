"""The drug-neutral prospective review: what every pharmacy checks for every drug.

The per-drug rules (prescriptions/checks.py) read a drug's catalog rows; these read
nothing drug-specific. Each rule is one function over `ReviewFacts` yielding findings,
listed once in `RULES`, so a new check is one function and one line. The facts are
gathered in a fixed number of queries by prescriptions/services/checks.py.
"""

from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import date

from .checks import CheckResult, Level, PatientFacts

PROFILE_MISSING = "profile_missing"
PROFILE_UNCONFIRMED = "profile_unconfirmed"
# Findings the patient resolves (by completing or confirming the profile), not a
# pharmacist: they stop ordering while they last, but never hold a prescription.
PATIENT_ACTION_CODES = frozenset({PROFILE_MISSING, PROFILE_UNCONFIRMED})


@dataclass(frozen=True)
class ReviewSettings:
    profile_confirm_days: int  # a profile confirmed longer ago than this is stale


@dataclass(frozen=True)
class ProfileState:
    exists: bool
    confirmed_on: date | None  # the day the patient last saved or confirmed it


@dataclass(frozen=True)
class ReviewFacts:
    today: date
    settings: ReviewSettings
    patient: PatientFacts
    profile: ProfileState


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


RULES: list[Rule] = [
    profile_confirmation,
]


def run_review(facts: ReviewFacts) -> list[CheckResult]:
    """Every drug-neutral finding, in rule order."""
    return [result for rule in RULES for result in rule(facts)]
