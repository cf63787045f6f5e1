"""Rules about the patient rather than the dose: kidneys, interactions, conditions."""

from collections.abc import Iterator

from django.utils.text import slugify

from catalog.models import DrugCondition, ProfileFact, RenalMeasure, Severity

from .findings import (
    ALCOHOL_CLASS,
    ALCOHOL_NONE,
    CheckResult,
    Context,
    PatientFacts,
    block,
    level_for,
    mentions,
    warn,
)
from .monograph import format_mg

ELDERLY_AGE_YEARS = 65  # monographs say "elderly patients"; the pharmacy flags 65+
KIDNEY_CHRONIC = "chronic"
KIDNEY_END_STAGE = "end_stage"

# Whether the profile records each fact a drug's condition rows may name: True, False,
# or None when the patient has not answered the question it is read from (unknown,
# which is a finding of its own for a drug whose rows depend on it, never a pass).
# Age has a blocking rule of its own when the date of birth is missing.


def _kidney(p: PatientFacts, disease: str) -> bool | None:
    return None if p.kidney_disease is None else p.kidney_disease == disease


ON_PROFILE = {
    ProfileFact.HYPERSENSITIVITY: lambda p: p.hypersensitive_to_drug,
    ProfileFact.PEPTIC_ULCER: lambda p: p.active_peptic_ulcer,
    ProfileFact.EPILEPSY: lambda p: p.epilepsy,
    ProfileFact.PSYCHIATRIC_DISORDER: lambda p: p.psychiatric_disorder,
    ProfileFact.PREGNANCY: lambda p: p.pregnant,
    ProfileFact.BREASTFEEDING: lambda p: p.breastfeeding,
    ProfileFact.ELDERLY: lambda p: p.age_years is not None and p.age_years >= ELDERLY_AGE_YEARS,
    ProfileFact.KIDNEY_CHRONIC: lambda p: _kidney(p, KIDNEY_CHRONIC),
    ProfileFact.KIDNEY_END_STAGE: lambda p: _kidney(p, KIDNEY_END_STAGE),
    ProfileFact.HEPATIC_IMPAIRMENT: lambda p: p.hepatic_impairment,
}
KIDNEY_FACTS = (ProfileFact.KIDNEY_CHRONIC, ProfileFact.KIDNEY_END_STAGE)
ACTION_BY_SEVERITY = {
    Severity.CONTRAINDICATED: "contraindicated",
    Severity.MAJOR: "avoid",
    Severity.MODERATE: "use with caution",
    Severity.MONITOR: "extra monitoring",
}
# Every medicine is contraindicated in a patient who reacted to it: this holds even
# for a drug whose rows forgot to say so.
HYPERSENSITIVITY_DEFAULT = (
    "A known hypersensitivity to a medicine contraindicates it; the profile records one."
)

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
    drinks = patient.alcohol_use not in (None, ALCOHOL_NONE)
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
        # Alcohol has a question of its own; free text ("I don't drink alcohol") is
        # not read for it.
        typed = [
            f"“{term}” ({m.name})"
            for m in classes
            if m.slug not in taking and m.slug != ALCOHOL_CLASS
            for term in m.terms()
            if mentions(patient.other_medications, term)
        ]
        if patient.alcohol_use is None and any(m.slug == ALCOHOL_CLASS for m in classes):
            yield warn(
                "alcohol_use_unknown",
                "Alcohol use not known",
                "The patient has not answered the alcohol question on their profile, so "
                f"this interaction was not screened: {interaction.name} "
                f"({interaction.get_severity_display().lower()}).",
                f"{interaction.name}: {interaction.effect}",
            )
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


def _finding(row: DrugCondition) -> CheckResult:
    label = row.get_fact_display()
    return CheckResult(
        row.fact,
        level_for(row.severity),
        f"{label}: {ACTION_BY_SEVERITY.get(row.severity, row.severity)}",
        f"On the patient's profile: {label.lower()}. {row.message}".strip(),
        row.source or f"Pharmacy rule for this drug: {row.message}",
    )


def _rules_of(rows: list[DrugCondition]) -> str:
    return "; ".join(
        f"{row.get_fact_display().lower()}: {ACTION_BY_SEVERITY.get(row.severity, row.severity)}"
        for row in rows
    )


def _not_known(code: str, title: str, question: str, rules: str, source: str) -> CheckResult:
    """A fact this drug's rules read that the patient has not answered: the pharmacist
    asks, rather than the check passing as if the answer were "no"."""
    return warn(
        code,
        title,
        f"The patient has not answered “{question}” on their profile, so it was not "
        f"screened. This drug's rules: {rules}.",
        source,
    )


def _renal_value(patient: PatientFacts, measure: str) -> tuple[str, object] | None:
    """The number a threshold reads; the other measure stands in when it is all there is."""
    values = {
        RenalMeasure.CREATININE_CLEARANCE: patient.creatinine_clearance,
        RenalMeasure.EGFR: patient.egfr,
    }
    if values.get(measure) is not None:
        return measure, values[measure]
    other = next(((m, v) for m, v in values.items() if v is not None), None)
    return other


def kidney(ctx: Context) -> Iterator[CheckResult]:
    """Kidney function: by the drug's thresholds when a number is on file, else by its
    yes/no kidney conditions."""
    patient, thresholds = ctx.patient, ctx.catalog.renal_thresholds
    known = patient.egfr is not None or patient.creatinine_clearance is not None
    if thresholds and known:
        for threshold in thresholds:  # lowest threshold first: the strictest that applies
            measure, value = _renal_value(patient, threshold.measure)
            if value >= threshold.below:
                continue
            used = RenalMeasure(measure).label
            stand_in = (
                ""
                if measure == threshold.measure
                else " (standing in for " + (f"{threshold.get_measure_display()})")
            )
            yield CheckResult(
                "renal_function",
                level_for(threshold.severity),
                f"Kidney function below {format_mg(threshold.below)} mL/min: "
                f"{threshold.action.lower()}",
                f"{used}: {format_mg(value)} on the profile{stand_in}; below "
                f"{format_mg(threshold.below)} mL/min the monograph says: {threshold.action}.",
                threshold.source or threshold.action,
            )
            return
        return
    rows = [c for c in ctx.catalog.conditions if c.fact in KIDNEY_FACTS]
    if patient.kidney_disease is None and not known and (rows or thresholds):
        limits = [f"below {format_mg(t.below)} mL/min: {t.action.lower()}" for t in thresholds]
        yield _not_known(
            "kidney_function_unknown",
            "Kidney function not known",
            "kidney disease",
            "; ".join([_rules_of(rows), *limits] if rows else limits),
            (rows[0].source if rows else thresholds[0].source) or "Kidney function not known.",
        )
        return
    fired = [row for row in rows if ON_PROFILE[row.fact](patient)]
    yield from (_finding(row) for row in fired)
    if thresholds and not fired and patient.kidney_disease in (KIDNEY_CHRONIC, KIDNEY_END_STAGE):
        limits = ", ".join(f"{format_mg(t.below)} mL/min ({t.action})" for t in thresholds)
        yield warn(
            "renal_function_unknown",
            "Kidney disease without a kidney function number",
            f"The profile records kidney disease but no eGFR or creatinine clearance; "
            f"this drug's thresholds: {limits}.",
            thresholds[0].source or limits,
        )


def conditions(ctx: Context) -> Iterator[CheckResult]:
    """The profile facts this drug's rows name, each with its severity and sentence."""
    patient, rows = ctx.patient, ctx.catalog.conditions
    unknown: dict[str, list[DrugCondition]] = {}
    for row in rows:
        if row.fact in KIDNEY_FACTS:
            continue
        answer = ON_PROFILE[row.fact](patient)
        if answer is None:
            unknown.setdefault(row.fact, []).append(row)
        elif answer:
            yield _finding(row)
    for fact, unanswered in unknown.items():
        label = unanswered[0].get_fact_display()
        yield _not_known(
            f"{fact}_unknown",
            f"{label} not known",
            label.lower(),
            _rules_of(unanswered),
            unanswered[0].source or f"Pharmacy rule for this drug: {unanswered[0].message}",
        )
    if patient.hypersensitive_to_drug and not any(
        r.fact == ProfileFact.HYPERSENSITIVITY for r in rows
    ):
        yield block(
            ProfileFact.HYPERSENSITIVITY,
            f"Known hypersensitivity to {ctx.catalog.drug_name}",
            HYPERSENSITIVITY_DEFAULT,
            HYPERSENSITIVITY_DEFAULT,
        )
