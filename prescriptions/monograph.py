"""What the clinical checks read from a drug's catalog rows, loaded in one go.

Kept apart from the rules so that the rules stay about clinical judgement and the
catalog is read in a fixed number of queries, whatever the rules find.
"""

import re
from dataclasses import dataclass
from decimal import Decimal

from catalog.models import (
    DosageForm,
    DosingGuideline,
    Drug,
    DrugCondition,
    Formulation,
    Interaction,
    MonographSection,
    RenalThreshold,
    Route,
)

_SENTENCE_END = re.compile(r"(?<=[.!?])\s+")
# How the "forms" section names each form, to quote the line about it.
FORM_WORDS = {
    DosageForm.TABLET: ("tablet",),
    DosageForm.CAPSULE: ("capsule",),
    DosageForm.ORAL_SOLUTION: ("solution", "liquid", "syrup"),
    DosageForm.INTRATHECAL: ("intrathecal",),
}


@dataclass(frozen=True)
class MonographFacts:
    drug_name: str
    guidelines: list[DosingGuideline]
    interactions: list[Interaction]
    sections: list[MonographSection]
    formulations: list[Formulation]
    conditions: list[DrugCondition]
    renal_thresholds: list[RenalThreshold]

    @classmethod
    def load(cls, drug: Drug) -> "MonographFacts":
        return cls(
            drug_name=drug.name,
            guidelines=list(drug.dosing_guidelines.all()),
            interactions=list(drug.interactions.prefetch_related("medication_classes")),
            sections=list(drug.sections.all()),
            formulations=list(drug.formulations.all()),
            conditions=list(drug.conditions.all()),
            renal_thresholds=list(drug.renal_thresholds.all()),
        )

    def oral_guideline_for(self, age: int) -> DosingGuideline | None:
        return oral_guideline_for(self.guidelines, age)

    def quote_form(self, form: str) -> str:
        return self.quote("forms", FORM_WORDS.get(form, (form,)))

    def quote(self, heading: str, keywords: tuple[str, ...]) -> str:
        """The monograph text a rule rests on, so the pharmacist can judge it.

        A list item is quoted whole (each is one topic, like "Kidney disease: ..."), a
        paragraph by its sentence. Without a matching sentence the heading alone still
        says where to read.
        """
        pattern = re.compile(r"\b(?:" + "|".join(map(re.escape, keywords)) + ")", re.IGNORECASE)
        matching = [s for s in self.sections if heading.lower() in s.heading.lower()]
        for section in matching:
            for kind, content in section.blocks():
                if kind == "ul":
                    hit = next((item for item in content if pattern.search(item)), None)
                elif kind == "p":
                    sentences = _SENTENCE_END.split(content)
                    hit = next((s for s in sentences if pattern.search(s)), None)
                else:
                    hit = None
                if hit:
                    return f"{section.heading}: “{hit}”"
        return matching[0].heading if matching else heading


def oral_guideline_for(guidelines, age: int) -> DosingGuideline | None:
    """The oral dosing row of the patient's age band, if the drug has one."""
    for row in guidelines:
        if (
            row.route == Route.ORAL
            and (row.min_age_years is None or age >= row.min_age_years)
            and (row.max_age_years is None or age <= row.max_age_years)
        ):
            return row
    return None


def format_mg(value: Decimal) -> str:
    return f"{value.normalize():f}"


def age_band(row: DosingGuideline) -> str:
    low = row.min_age_years or 0
    if row.max_age_years is None:
        return f"ages {low}+"
    if low == 0:
        return f"under {row.max_age_years + 1}"
    return f"ages {low}–{row.max_age_years}"


def row_text(row: DosingGuideline, *columns: str) -> str:
    """A dosing row as the monograph page shows it, limited to the columns a rule uses."""
    text = {"initial": row.initial_dose, "titration": row.titration, "maximum": row.maximum}
    return f"{row.patient_group}: " + "; ".join(f"{c} {text[c]}" for c in columns)
