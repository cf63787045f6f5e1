"""What a monograph's words say about its clinical rules, for the loader.

Severity words ("contraindicated", "avoid", "monitor"), the profile facts a caution
section names, kidney thresholds, dose limits, titration and "do not stop suddenly":
drug-neutral patterns, so that a drug's rules come from its own text. What the text
does not say is left for staff to fill in the admin.
"""

import re
from dataclasses import dataclass
from decimal import Decimal

from .models import DOSING_TABLE_MARKER, ProfileFact, RenalMeasure, Severity

# Words by which a monograph grades a rule in its own text, strongest first. Text
# that uses none of them is loaded as moderate (it warns) for staff to grade.
SEVERITY_WORDS = [
    (
        Severity.CONTRAINDICATED,
        re.compile(
            r"contraindicat|must not be (?:used|taken|combined|given)"
            r"|do not (?:use|take|combine)|never be (?:used|taken|combined|given)",
            re.IGNORECASE,
        ),
    ),
    (Severity.MAJOR, re.compile(r"\bavoid", re.IGNORECASE)),
    (Severity.MONITOR, re.compile(r"\bmonitor", re.IGNORECASE)),
]

# Sections in which a monograph says who should not take the drug, or only with care.
CAUTION_HEADINGS = re.compile(
    r"contraindicat|special population|pregnan|breastfeed|warning|precaution|caution",
    re.IGNORECASE,
)
# How monographs name each profile fact. The first passage naming it in a caution
# section becomes the drug's condition row, graded by its own words.
FACT_WORDS = {
    ProfileFact.HYPERSENSITIVITY: r"hypersensitiv",
    ProfileFact.PEPTIC_ULCER: r"peptic ulcer",
    ProfileFact.EPILEPSY: r"epilep",
    ProfileFact.PSYCHIATRIC_DISORDER: r"psychiatric",
    ProfileFact.PREGNANCY: r"pregnan",
    ProfileFact.BREASTFEEDING: r"breast[- ]?feed|breast milk",
    ProfileFact.ELDERLY: r"elderly|older (?:adults|patients)",
    ProfileFact.HEPATIC_IMPAIRMENT: r"hepatic|liver (?:disease|impairment)",
}
KIDNEY_WORDS = r"kidney|renal"
# What the pharmacist is told, by grade, until staff write something better.
MESSAGE_BY_SEVERITY = {
    Severity.CONTRAINDICATED: "Contraindicated: do not dispense unless the prescriber confirms.",
    Severity.MAJOR: "Avoid: confirm with the prescriber before dispensing.",
    Severity.MODERATE: "Use with caution: check the dose and counsel the patient.",
    Severity.MONITOR: "Extra monitoring needed: counsel the patient and inform the prescriber.",
}
KIDNEY_CHRONIC_MESSAGE = "Check the dose is reduced for the kidney function."
RENAL_THRESHOLD = re.compile(
    r"(creatinine clearance|CrCl|eGFR)\b[^.]{0,60}?(?:below|under|less than|<)\s*"
    r"(\d+(?:\.\d+)?)\s*mL/min",
    re.IGNORECASE,
)


NUMBER_WORDS = {
    "once": 1,
    "one": 1,
    "twice": 2,
    "two": 2,
    "three": 3,
    "four": 4,
    "five": 5,
    "six": 6,
}
COUNT = r"(once|twice|one|two|three|four|five|six|\d+)"
# "no more than three doses in 24 hours", "up to 4 doses a day"
DOSES_PER_DAY_LIMIT = re.compile(
    rf"(?:no more than|not more than|at most|up to|maximum of)\s+{COUNT}\s+doses?\s+"
    r"(?:in|per|a|each)\s+(?:24 hours|day)",
    re.IGNORECASE,
)
# The regimen given with a maximum, "(20 mg four times daily)": 20 mg is the most per dose.
DOSE_IN_MAXIMUM = re.compile(
    rf"(\d+(?:\.\d+)?)\s*mg\s+(?:{COUNT}(?:\s+times)?\s+(?:daily|a day)|per dose)",
    re.IGNORECASE,
)
TITRATION = re.compile(
    r"(\d+(?:\.\d+)?)\s*mg(?:\s*(?:to|–|-)\s*(\d+(?:\.\d+)?)\s*mg)?(?:\s+per dose)?"
    r"\s+every\s+(\d+)(?:\s*(?:to|–|-)\s*\d+)?\s+days?",
    re.IGNORECASE,
)
# "must never be stopped suddenly", "Do not stop taking X suddenly", "should not be
# discontinued abruptly": a negation, then stopping, then suddenly or abruptly.
STOP_SUDDENLY = re.compile(
    r"(?:\bnever\b|\bnot\b|n['’]t\b)[^.!?]{0,40}?\b(?:stop\w*|discontinu\w*|withdraw\w*)\b"
    r"[^.!?]{0,40}?\b(?:suddenly|abruptly|at once)\b",
    re.IGNORECASE,
)
STOP_SENTENCES = 2  # the warning and the sentence that says why
NOT_ESTABLISHED = re.compile(r"not (?:been )?established", re.IGNORECASE)


@dataclass
class ParsedCondition:
    fact: str
    severity: str
    message: str
    source: str


@dataclass
class ParsedRenalThreshold:
    measure: str
    below: Decimal
    action: str
    severity: str
    source: str


def number(word: str) -> int:
    return int(word) if word.isdigit() else NUMBER_WORDS[word.lower()]


def sentences(text: str) -> list[str]:
    return re.split(r"(?<=[.!?])\s+", text)


def severity_from_text(text: str, default: str = Severity.MODERATE) -> str:
    """The grade the monograph's own words give, e.g. "contraindicated" or "avoid"."""
    return next((grade for grade, words in SEVERITY_WORDS if words.search(text)), default)


def passages(sections: list, headings: re.Pattern) -> list[tuple[str, str]]:
    """(heading, passage) pairs: a list item whole, a paragraph sentence by sentence."""
    found = []
    for section in sections:
        if not headings.search(section.heading):
            continue
        for line in section.lines:
            if line == DOSING_TABLE_MARKER:
                continue
            if line.startswith("- "):
                found.append((section.heading, line[2:].strip()))
            else:
                found.extend((section.heading, s) for s in sentences(line))
    return found


def parse_cautions(
    sections: list,
) -> tuple[list[ParsedCondition], list[ParsedRenalThreshold]]:
    """The profile facts the monograph warns about, and its kidney thresholds.

    Facts it does not mention get no row, so they are no finding for this drug;
    hypersensitivity always gets one, since every drug is contraindicated in it.
    """
    found = passages(sections, CAUTION_HEADINGS)

    def first(words: str) -> tuple[str, str] | None:
        pattern = re.compile(words, re.IGNORECASE)
        return next((p for p in found if pattern.search(p[1])), None)

    def quoted(hit: tuple[str, str]) -> str:
        return f"{hit[0]}: “{hit[1]}”"

    conditions = []
    for fact, words in FACT_WORDS.items():
        hit = first(words)
        if hit is None:
            if fact == ProfileFact.HYPERSENSITIVITY:
                grade = Severity.CONTRAINDICATED
                conditions.append(ParsedCondition(fact, grade, MESSAGE_BY_SEVERITY[grade], ""))
            continue
        grade = severity_from_text(hit[1])
        conditions.append(ParsedCondition(fact, grade, MESSAGE_BY_SEVERITY[grade], quoted(hit)))
    thresholds = []
    if hit := first(KIDNEY_WORDS):
        # Chronic disease means a dose reduction unless the text forbids the drug
        # outright; end-stage disease takes the text's strongest word ("avoid").
        grade = severity_from_text(hit[1])
        chronic = grade if grade == Severity.CONTRAINDICATED else Severity.MODERATE
        conditions += [
            ParsedCondition(
                ProfileFact.KIDNEY_CHRONIC, chronic, KIDNEY_CHRONIC_MESSAGE, quoted(hit)
            ),
            ParsedCondition(
                ProfileFact.KIDNEY_END_STAGE, grade, MESSAGE_BY_SEVERITY[grade], quoted(hit)
            ),
        ]
    for heading, passage in found:
        for m in RENAL_THRESHOLD.finditer(passage):
            measure = (
                RenalMeasure.EGFR
                if m.group(1).lower() == "egfr"
                else RenalMeasure.CREATININE_CLEARANCE
            )
            grade = severity_from_text(passage)
            if grade == Severity.MONITOR:
                grade = Severity.MODERATE  # a dose change, with monitoring, still warns
            action = (
                "Reduce the dose"
                if re.search(r"reduc", passage, re.I)
                else (MESSAGE_BY_SEVERITY[grade].split(":")[0])
            )
            thresholds.append(
                ParsedRenalThreshold(
                    measure, Decimal(m.group(2)), action, grade, quoted((heading, passage))
                )
            )
    return conditions, thresholds


def stop_suddenly_warning(sections) -> str:
    """The monograph's warning against stopping suddenly and the sentence after it."""
    for section in sections:
        prose = " ".join(line for line in section.lines if line != DOSING_TABLE_MARKER)
        found = sentences(prose)
        hit = next((n for n, s in enumerate(found) if STOP_SUDDENLY.search(s)), None)
        if hit is not None:
            return " ".join(found[hit : hit + STOP_SENTENCES])
    return ""


def not_established_sentence(sections) -> str:
    """The monograph's own sentence saying an age group is "not established"."""
    for heading, passage in passages(sections, re.compile(".")):
        if NOT_ESTABLISHED.search(passage):
            return f"{heading}: “{passage}”"
    return ""
