"""Rules about the patient rather than the dose: kidneys, interactions, conditions."""

from collections.abc import Iterator

from django.utils.text import slugify

from catalog.models import Severity

from .findings import (
    ALCOHOL_CLASS,
    ALCOHOL_NONE,
    CheckResult,
    Context,
    block,
    level_for,
    mentions,
    warn,
)

ELDERLY_AGE_YEARS = 65  # the monograph says "elderly patients"; the pharmacy flags 65+
KIDNEY_CHRONIC = "chronic"
KIDNEY_END_STAGE = "end_stage"

_TITLE_BY_SEVERITY = {
    Severity.CONTRAINDICATED: "Contraindicated with {}",
    Severity.MAJOR: "Major interaction with {}",
    Severity.MODERATE: "Moderate interaction with {}",
    Severity.MONITOR: "{}: monitoring required",
}


def interactions(ctx: Context) -> Iterator[CheckResult]:
    """The drug's interaction classes against the profile: the classes ticked, alcohol
    use, and the class's substances named in the medicines the patient typed."""
    patient = ctx.patient
    taking = set(patient.medication_classes)
    drinks = patient.alcohol_use != ALCOHOL_NONE
    if drinks:
        taking.add(ALCOHOL_CLASS)
    for interaction in ctx.catalog.interactions:
        classes = list(interaction.medication_classes.all())
        ticked = [
            f"{m.name} ({patient.alcohol_use} use)"
            if m.slug == ALCOHOL_CLASS
            and drinks
            and ALCOHOL_CLASS not in patient.medication_classes
            else m.name
            for m in classes
            if m.slug in taking
        ]
        typed = [
            f"“{term}” ({m.name})"
            for m in classes
            if m.slug not in taking
            for term in m.terms()
            if mentions(patient.other_medications, term)
        ]
        if not ticked and not typed:
            continue
        details = []
        if ticked:
            details.append(f"On the patient's profile: {', '.join(ticked)}.")
        if typed:
            details.append(f"In the other medicines the patient wrote: {', '.join(typed)}.")
        title = _TITLE_BY_SEVERITY.get(interaction.severity, "Interaction with {}")
        yield CheckResult(
            f"interaction_{slugify(interaction.name).replace('-', '_') or interaction.pk}",
            level_for(interaction.severity),
            title.format(interaction.name),
            " ".join(details),
            f"{interaction.name}: {interaction.effect}",
        )


def kidney(ctx: Context) -> Iterator[CheckResult]:
    c, patient = ctx.catalog, ctx.patient
    if patient.kidney_disease not in (KIDNEY_CHRONIC, KIDNEY_END_STAGE):
        return
    source = c.quote("special populations", ("kidney", "renal"))
    if patient.kidney_disease == KIDNEY_CHRONIC:
        yield warn(
            "kidney_chronic",
            "Chronic kidney disease: dose reduction essential",
            f"{c.drug_name} is excreted by the kidneys and may accumulate; check the dose "
            "is reduced.",
            source,
        )
    else:
        yield block(
            "kidney_end_stage",
            "End-stage kidney disease: avoid",
            f"{c.drug_name} should be avoided in end-stage kidney disease.",
            source,
        )


def conditions(ctx: Context) -> Iterator[CheckResult]:
    c, patient = ctx.catalog, ctx.patient
    name = c.drug_name
    if patient.hypersensitive_to_drug:
        yield block(
            "hypersensitivity",
            f"Known hypersensitivity to {name}",
            f"The profile records a hypersensitivity to {name}.",
            c.quote("contraindications", ("hypersensitivity",)),
        )
    if patient.active_peptic_ulcer:
        yield block(
            "peptic_ulcer",
            "Active peptic ulcer disease",
            f"The profile records active peptic ulcer disease; {name} should be avoided.",
            c.quote("contraindications", ("peptic ulcer",)),
        )
    if patient.epilepsy:
        yield warn(
            "epilepsy",
            "Epilepsy: extra monitoring",
            f"Epilepsy on file; {name} may exacerbate symptoms in some patients.",
            c.quote("contraindications", ("epilepsy",)),
        )
    if patient.psychiatric_disorder:
        yield warn(
            "psychiatric_disorder",
            "Psychiatric disorder: extra monitoring",
            f"Psychiatric disorder on file; {name} may exacerbate symptoms in some patients.",
            c.quote("contraindications", ("psychiatric",)),
        )
    if patient.pregnant:
        yield warn(
            "pregnancy",
            "Pregnancy",
            "The patient is pregnant: use only if the benefit outweighs the risk.",
            c.quote("pregnancy", ("pregnan",)),
        )
    if patient.breastfeeding:
        yield warn(
            "breastfeeding",
            "Breastfeeding",
            f"The patient is breastfeeding; {name} passes into breast milk.",
            c.quote("breastfeeding", ("breastfeeding", "breast milk")),
        )
    if patient.age_years is not None and patient.age_years >= ELDERLY_AGE_YEARS:
        yield warn(
            "elderly",
            f"Age {ELDERLY_AGE_YEARS} or over: start low, fall risk",
            f"The patient is {patient.age_years}; more sensitive to sedation and at risk "
            "of falls, so start low and titrate carefully.",
            c.quote("special populations", ("elderly",)),
        )
