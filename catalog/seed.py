"""Turn a monograph text file (as in catalog/data/) into catalog rows.

The source is the plain text of a drug page: a preamble of "Key: value" lines and
package price tables, then headed sections whose bodies hold paragraphs, "- " lists
and "|" tables. Parsing is separate from loading so each can be tested alone, and
the loader takes the model classes it writes to so a data migration can pass its
historical models.
"""

import re
from dataclasses import dataclass, field
from decimal import Decimal
from itertools import pairwise
from pathlib import Path

from django.utils.text import slugify

from .models import (
    DOSING_TABLE_MARKER,
    DosageForm,
    ProfileFact,
    RenalMeasure,
    Route,
    Severity,
)

DATA_DIR = Path(__file__).resolve().parent / "data"

# Lines that were links on the source web page, not content.
NAVIGATION_LINES = {"Read the instructions carefully", "Place an order in a few clicks >>"}

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

# Safety messages pulled to the top of the drug page: a phrase that finds the
# sentence in the monograph, and how many sentences from there make the callout.
# The warning against stopping suddenly is the drug's own field (see STOP_SUDDENLY).
CALLOUTS = [
    ("alcohol should be avoided", 1),
    ("consult your doctor", 1),
]

# Package price tables do not say which strength they price; in source order they are
# assigned to the sellable formulations in order (10 mg, then 20 mg). Staff can
# reassign them in the admin.
INITIAL_STOCK = 100

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
_COUNT = r"(once|twice|one|two|three|four|five|six|\d+)"
# "no more than three doses in 24 hours", "up to 4 doses a day"
DOSES_PER_DAY_LIMIT = re.compile(
    rf"(?:no more than|not more than|at most|up to|maximum of)\s+{_COUNT}\s+doses?\s+"
    r"(?:in|per|a|each)\s+(?:24 hours|day)",
    re.IGNORECASE,
)
# The regimen given with a maximum, "(20 mg four times daily)": 20 mg is the most per dose.
DOSE_IN_MAXIMUM = re.compile(
    rf"(\d+(?:\.\d+)?)\s*mg\s+(?:{_COUNT}(?:\s+times)?\s+(?:daily|a day)|per dose)",
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
class ParsedSection:
    heading: str
    lines: list[str] = field(default_factory=list)
    callout: str = ""

    @property
    def slug(self) -> str:
        return slugify(self.heading)[:100]

    @property
    def body(self) -> str:
        return "\n\n".join(self.lines)


@dataclass
class ParsedGuideline:
    patient_group: str
    initial_dose: str
    titration: str
    maximum: str
    route: str = Route.ORAL
    min_age_years: int | None = None
    max_age_years: int | None = None
    initial_dose_mg: Decimal | None = None
    initial_doses_per_day: int | None = None
    titration_step_mg: Decimal | None = None
    titration_interval_days: int | None = None
    max_daily_mg: Decimal | None = None
    max_dose_mg: Decimal | None = None
    max_doses_per_day: int | None = None
    not_established: bool = False
    source: str = ""
    min_mg_per_kg_day: Decimal | None = None
    max_mg_per_kg_day: Decimal | None = None


@dataclass
class ParsedInteraction:
    name: str
    classes: list[str]
    effect: str
    severity: str


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


@dataclass
class ParsedFormulation:
    form: str
    strength_label: str
    strength_mg: Decimal | None
    sellable: bool
    concentration_mg_per_ml: Decimal | None = None


@dataclass
class ParsedPackage:
    pill_count: int
    price: Decimal


@dataclass
class ParsedMonograph:
    name: str
    manufacturer: str = ""
    also_known_as: str = ""
    summary: str = ""
    sections: list[ParsedSection] = field(default_factory=list)
    guidelines: list[ParsedGuideline] = field(default_factory=list)
    interactions: list[ParsedInteraction] = field(default_factory=list)
    formulations: list[ParsedFormulation] = field(default_factory=list)
    packages: list[ParsedPackage] = field(default_factory=list)
    conditions: list[ParsedCondition] = field(default_factory=list)
    renal_thresholds: list[ParsedRenalThreshold] = field(default_factory=list)
    stop_suddenly_warning: str = ""


class MonographFormatError(ValueError):
    pass


def _is_table_row(line: str) -> bool:
    return "|" in line


def _is_heading(line: str) -> bool:
    return (
        len(line) <= 80
        and not _is_table_row(line)
        and not line.startswith("- ")
        and not line.endswith((".", ":", ","))
    )


def _cells(line: str) -> list[str]:
    return [cell.strip() for cell in line.strip().strip("|").split("|")]


def _money(text: str) -> Decimal:
    match = re.fullmatch(r"\$?\s*([0-9]+(?:\.[0-9]{1,2})?)", text.strip())
    if not match:
        raise MonographFormatError(f"Not a price: {text!r}")
    return Decimal(match.group(1))


def _number(word: str) -> int:
    return int(word) if word.isdigit() else NUMBER_WORDS[word.lower()]


def _sentences(text: str) -> list[str]:
    return re.split(r"(?<=[.!?])\s+", text)


def parse_guideline(cells: list[str]) -> ParsedGuideline:
    """One dosing table row; the numbers are read from the same text patients see."""
    group, initial, titration, maximum = cells[:4]
    row = ParsedGuideline(group, initial, titration, maximum)
    lower = group.lower()
    if "intrathecal" in lower:
        row.route = Route.INTRATHECAL
    elif "adult" in lower:
        row.min_age_years = 18
    if m := re.search(r"(?:≥|>=)\s*(\d+)", group):
        row.min_age_years = int(m.group(1))
    if m := re.search(r"<\s*(\d+)", group):
        row.min_age_years, row.max_age_years = 0, int(m.group(1)) - 1

    if m := re.search(r"(\d+(?:\.\d+)?)\s*[–-]\s*(\d+(?:\.\d+)?)\s*mg/kg/day", initial):
        row.min_mg_per_kg_day, row.max_mg_per_kg_day = Decimal(m.group(1)), Decimal(m.group(2))
    elif m := re.search(r"(\d+(?:\.\d+)?)\s*(mg|mcg)\b", initial):
        dose = Decimal(m.group(1))
        row.initial_dose_mg = dose / 1000 if m.group(2) == "mcg" else dose
        words = re.findall(
            r"\b(once|twice|one|two|three|four|five|\d+)\b(?= times| daily)", initial
        )
        counts = [_number(w) for w in words] + [
            _number(w) for w in re.findall(r"\b(one|two|three|four|five)\b(?= or)", initial)
        ]
        if counts:
            # "two or three times daily": the start is judged against the upper end.
            row.initial_doses_per_day = max(counts)
    # "by 5 mg every 3 days"; a range ("2 mg to 4 mg every 1 to 4 days") is read as the
    # fastest it allows, so that only a rise beyond anything the text permits is flagged.
    if m := TITRATION.search(titration):
        row.titration_step_mg = Decimal(m.group(2) or m.group(1))
        row.titration_interval_days = int(m.group(3))
    if m := re.search(r"(\d+(?:\.\d+)?)\s*mg/day", maximum):
        row.max_daily_mg = Decimal(m.group(1))
    if m := DOSE_IN_MAXIMUM.search(maximum):
        row.max_dose_mg = Decimal(m.group(1))
    if m := DOSES_PER_DAY_LIMIT.search(" ".join(cells[:4])):
        row.max_doses_per_day = _number(m.group(1))
    row.not_established = any(NOT_ESTABLISHED.search(cell) for cell in cells[:4])
    return row


def severity_from_text(text: str, default: str = Severity.MODERATE) -> str:
    """The grade the monograph's own words give, e.g. "contraindicated" or "avoid"."""
    return next((grade for grade, words in SEVERITY_WORDS if words.search(text)), default)


def parse_interaction(item: str) -> ParsedInteraction:
    head, _, effect = item.partition(":")
    m = re.fullmatch(r"(.+?)\s*\((.+)\)", head.strip())
    if m:
        name, members = m.group(1), [c.strip() for c in m.group(2).split(",")]
    else:
        name, members = head.strip(), [head.strip()]
    classes = [c if c.isupper() or c[1:] != c[1:].lower() else c.capitalize() for c in members]
    return ParsedInteraction(name, classes, effect.strip(), severity_from_text(effect))


def parse_formulations(item: str) -> list[ParsedFormulation]:
    """The forms one "Available Forms" line names; a form the catalog has no kind for
    is refused rather than dropped, so nothing the monograph sells goes missing."""
    head = item.partition(":")[0].lower()
    if "intrathecal" in head:
        return [ParsedFormulation(DosageForm.INTRATHECAL, "", None, sellable=False)]
    if re.search(r"solution|liquid|syrup", head):
        concentration = None
        if m := re.search(r"(\d+(?:\.\d+)?)\s*mg\s*(?:/|per|in)\s*(\d+(?:\.\d+)?)?\s*ml", head):
            concentration = Decimal(m.group(1)) / Decimal(m.group(2) or 1)
        return [
            ParsedFormulation(
                DosageForm.ORAL_SOLUTION, "", None, True, concentration_mg_per_ml=concentration
            )
        ]
    for form, word in ((DosageForm.TABLET, "tablet"), (DosageForm.CAPSULE, "capsule")):
        if word in head:
            return [
                ParsedFormulation(form, f"{mg} mg", Decimal(mg), sellable=True)
                for mg in re.findall(r"(\d+(?:\.\d+)?)\s*mg", head)
            ]
    raise MonographFormatError(
        f"Unknown form in the forms list: {item!r}. Known: tablets, capsules, oral solution, "
        "intrathecal; add the form to the catalog by hand or extend the loader."
    )


def _passages(sections: list[ParsedSection], headings: re.Pattern) -> list[tuple[str, str]]:
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
                found.extend((section.heading, s) for s in _sentences(line))
    return found


def parse_cautions(
    sections: list[ParsedSection],
) -> tuple[list[ParsedCondition], list[ParsedRenalThreshold]]:
    """The profile facts the monograph warns about, and its kidney thresholds.

    Facts it does not mention get no row, so they are no finding for this drug;
    hypersensitivity always gets one, since every drug is contraindicated in it.
    """
    passages = _passages(sections, CAUTION_HEADINGS)

    def first(words: str) -> tuple[str, str] | None:
        pattern = re.compile(words, re.IGNORECASE)
        return next((p for p in passages if pattern.search(p[1])), None)

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
    for heading, passage in passages:
        for m in RENAL_THRESHOLD.finditer(passage):
            measure = (
                RenalMeasure.EGFR
                if m.group(1).lower() == "egfr"
                else (RenalMeasure.CREATININE_CLEARANCE)
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


def parse_monograph(text: str) -> ParsedMonograph:
    lines = [line.strip() for line in text.splitlines() if line.strip()]
    meta: dict[str, str] = {}
    packages: list[ParsedPackage] = []
    sections: list[ParsedSection] = []
    i = 0
    # Preamble: "Key: value" lines, price tables and navigation links.
    while i < len(lines) and not sections:
        line = lines[i]
        if line in NAVIGATION_LINES:
            pass
        elif _is_table_row(line):
            cells = _cells(line)
            if cells[0] and not set(cells[0]) <= {"-"} and cells[0].lower() != "package":
                count = re.match(r"(\d+)", cells[0])
                if not count:
                    raise MonographFormatError(f"Package row without a count: {line!r}")
                packages.append(ParsedPackage(int(count.group(1)), _money(cells[1])))
        elif m := re.fullmatch(r"([A-Z][\w ]{0,30}):\s*(.+)", line):
            meta[m.group(1).lower()] = m.group(2)
        elif _is_heading(line):
            sections.append(ParsedSection(line))
        else:
            raise MonographFormatError(f"Unexpected line before the first heading: {line!r}")
        i += 1

    parsed = ParsedMonograph(
        name=meta.get("known as", ""),
        manufacturer=meta.get("manufacturer", ""),
        also_known_as=meta.get("known as", ""),
        packages=packages,
    )
    table: list[list[str]] = []

    def flush_table(section: ParsedSection) -> None:
        if not table:
            return
        header, *rows = table
        if not header[0].lower().startswith("patient group"):
            raise MonographFormatError(f"Unknown table in {section.heading!r}: {header}")
        parsed.guidelines.extend(parse_guideline(r) for r in rows if not set(r[0]) <= {"-"})
        section.lines.append(DOSING_TABLE_MARKER)
        table.clear()

    for line in lines[i:]:
        section = sections[-1]
        if _is_table_row(line):
            table.append(_cells(line))
            continue
        flush_table(section)
        if _is_heading(line):
            sections.append(ParsedSection(line))
            continue
        section.lines.append(line)
        if line.startswith("- "):
            item = line[2:].strip()
            if "interaction" in section.heading.lower():
                parsed.interactions.append(parse_interaction(item))
            elif "form" in section.heading.lower():
                parsed.formulations.extend(parse_formulations(item))
    flush_table(sections[-1])

    for phrase, count in CALLOUTS:
        for section in sections:
            prose = " ".join(line for line in section.lines if line != DOSING_TABLE_MARKER)
            sentences = _sentences(prose)
            hit = next((n for n, s in enumerate(sentences) if phrase in s.lower()), None)
            if hit is not None and not section.callout:
                section.callout = " ".join(sentences[hit : hit + count])
                break

    for section in sections:
        prose = " ".join(line for line in section.lines if line != DOSING_TABLE_MARKER)
        sentences = _sentences(prose)
        hit = next((n for n, s in enumerate(sentences) if STOP_SUDDENLY.search(s)), None)
        if hit is not None:
            parsed.stop_suddenly_warning = " ".join(sentences[hit : hit + STOP_SENTENCES])
            break

    # "No more than three doses in 24 hours" in the dosage prose holds for every oral row.
    dosage_prose = " ".join(
        line for sec in sections if "dosage" in sec.heading.lower() for line in sec.lines
    )
    if m := DOSES_PER_DAY_LIMIT.search(dosage_prose):
        for row in parsed.guidelines:
            if row.route == Route.ORAL and row.max_doses_per_day is None:
                row.max_doses_per_day = _number(m.group(1))
    # A band "not established" quotes the monograph's own sentence saying so.
    sentence = next(
        (
            f"{heading}: “{passage}”"
            for heading, passage in _passages(sections, re.compile("."))
            if NOT_ESTABLISHED.search(passage)
        ),
        "",
    )
    for row in parsed.guidelines:
        if row.not_established and not row.source:
            row.source = sentence

    # An open-ended age group ends where the next older group starts (12+ ends at 17).
    oral = sorted(
        (g for g in parsed.guidelines if g.route == Route.ORAL and g.min_age_years is not None),
        key=lambda g: g.min_age_years,
    )
    for younger, older in pairwise(oral):
        if younger.max_age_years is None:
            younger.max_age_years = older.min_age_years - 1

    parsed.sections = sections
    parsed.conditions, parsed.renal_thresholds = parse_cautions(sections)
    if not parsed.name:
        parsed.name = sections[0].heading.split(" of ")[-1]
    first_paragraph = next((s.lines[0] for s in sections if s.lines), "")
    parsed.summary = " ".join(_sentences(first_paragraph)[:1])
    return parsed


def _create(model, **values):
    """Create a row with the values `model` has a field for.

    The data migration that loaded the first drug runs this loader with the models of
    its time; a field added since is filled by the migration that added it.
    """
    names = {f.name for f in model._meta.get_fields()}
    return model.objects.create(**{k: v for k, v in values.items() if k in names})


def load_clinical_rules(drug, parsed: ParsedMonograph, *, models) -> None:
    """The drug's condition and renal-threshold rows, where the models have them."""
    if condition_model := getattr(models, "DrugCondition", None):
        for position, item in enumerate(parsed.conditions):
            _create(condition_model, drug=drug, position=position, **item.__dict__)
    if threshold_model := getattr(models, "RenalThreshold", None):
        for item in parsed.renal_thresholds:
            _create(threshold_model, drug=drug, **item.__dict__)


def load_monograph(parsed: ParsedMonograph, *, models) -> tuple[object, bool]:
    """Create the drug and its rows unless a drug of that name exists.

    Idempotent by design: staff edits to an existing drug are never overwritten.
    `models` has the attributes Drug, MonographSection, DosingGuideline,
    MedicationClass, Interaction, Formulation and Package, and DrugCondition and
    RenalThreshold where they exist. Returns (drug, created).
    """
    existing = models.Drug.objects.filter(name=parsed.name).first()
    if existing:
        return existing, False
    drug = _create(
        models.Drug,
        name=parsed.name,
        slug=slugify(parsed.name),
        also_known_as=parsed.also_known_as,
        manufacturer=parsed.manufacturer,
        summary=parsed.summary,
        must_not_stop_suddenly=bool(parsed.stop_suddenly_warning),
        stop_suddenly_warning=parsed.stop_suddenly_warning,
    )
    for position, section in enumerate(parsed.sections):
        models.MonographSection.objects.create(
            drug=drug,
            position=position,
            slug=section.slug,
            heading=section.heading,
            body=section.body,
            callout=section.callout,
        )
    for position, row in enumerate(parsed.guidelines):
        _create(models.DosingGuideline, drug=drug, position=position, **row.__dict__)
    for position, item in enumerate(parsed.interactions):
        interaction = models.Interaction.objects.create(
            drug=drug,
            position=position,
            name=item.name,
            effect=item.effect,
            severity=item.severity,
        )
        classes = [
            models.MedicationClass.objects.get_or_create(
                slug=slugify(name), defaults={"name": name}
            )[0]
            for name in item.classes
        ]
        interaction.medication_classes.set(classes)
    formulations = []
    for position, item in enumerate(parsed.formulations):
        formulations.append(
            _create(models.Formulation, drug=drug, position=position, **item.__dict__)
        )
    solid = (DosageForm.TABLET, DosageForm.CAPSULE)
    sellable_solids = [f for f in formulations if f.sellable and f.form in solid]
    if len(parsed.packages) > len(sellable_solids):
        raise MonographFormatError("More price tables than tablet strengths to assign them to.")
    for formulation, package in zip(sellable_solids, parsed.packages, strict=False):
        models.Package.objects.create(
            formulation=formulation,
            pill_count=package.pill_count,
            price=package.price,
            stock=INITIAL_STOCK,
        )
    load_clinical_rules(drug, parsed, models=models)
    return drug, True


def read_seed(name: str = "baclofen-monograph.txt") -> ParsedMonograph:
    return parse_monograph((DATA_DIR / name).read_text(encoding="utf-8"))
