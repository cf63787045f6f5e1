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

from .clinical_text import (
    DOSE_IN_MAXIMUM,
    DOSES_PER_DAY_LIMIT,
    NOT_ESTABLISHED,
    TITRATION,
    ParsedCondition,
    ParsedRenalThreshold,
    not_established_sentence,
    number,
    parse_cautions,
    sentences,
    severity_from_text,
    stop_suddenly_warning,
)
from .models import DOSING_TABLE_MARKER, DosageForm, Route

DATA_DIR = Path(__file__).resolve().parent / "data"

# Lines that were links on the source web page, not content.
NAVIGATION_LINES = {"Read the instructions carefully", "Place an order in a few clicks >>"}

# Safety messages pulled to the top of the drug page: a phrase that finds the
# sentence in the monograph, and how many sentences from there make the callout.
# The warning against stopping suddenly is the drug's own field (see STOP_SUDDENLY).
CALLOUTS = [
    ("alcohol should be avoided", 1),
    ("consult your doctor", 1),
]

# Package price tables do not say which strength they price; in source order they are
# assigned to the sellable formulations in order (10 mg, then 20 mg), each table's rows
# (10, 30 and 90 pills) becoming that strength's packages. Staff can reassign them, change
# their prices and add other sizes in the admin.
INITIAL_STOCK = 100


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
    table: int = 0  # which price table (in source order) the row is in


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
        counts = [number(w) for w in words] + [
            number(w) for w in re.findall(r"\b(one|two|three|four|five)\b(?= or)", initial)
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
        row.max_doses_per_day = number(m.group(1))
    row.not_established = any(NOT_ESTABLISHED.search(cell) for cell in cells[:4])
    return row


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


def parse_monograph(text: str) -> ParsedMonograph:
    lines = [line.strip() for line in text.splitlines() if line.strip()]
    meta: dict[str, str] = {}
    packages: list[ParsedPackage] = []
    sections: list[ParsedSection] = []
    tables = 0  # price tables seen so far
    i = 0
    # Preamble: "Key: value" lines, price tables and navigation links.
    while i < len(lines) and not sections:
        line = lines[i]
        if line in NAVIGATION_LINES:
            pass
        elif _is_table_row(line):
            cells = _cells(line)
            if cells[0].lower() == "package":
                tables += 1
            elif cells[0] and not set(cells[0]) <= {"-"}:
                count = re.match(r"(\d+)", cells[0])
                if not count:
                    raise MonographFormatError(f"Package row without a count: {line!r}")
                packages.append(
                    ParsedPackage(int(count.group(1)), _money(cells[1]), max(tables - 1, 0))
                )
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
            found = sentences(prose)
            hit = next((n for n, s in enumerate(found) if phrase in s.lower()), None)
            if hit is not None and not section.callout:
                section.callout = " ".join(found[hit : hit + count])
                break

    parsed.stop_suddenly_warning = stop_suddenly_warning(sections)

    # "No more than three doses in 24 hours" in the dosage prose holds for every oral row.
    dosage_prose = " ".join(
        line for sec in sections if "dosage" in sec.heading.lower() for line in sec.lines
    )
    if m := DOSES_PER_DAY_LIMIT.search(dosage_prose):
        for row in parsed.guidelines:
            if row.route == Route.ORAL and row.max_doses_per_day is None:
                row.max_doses_per_day = number(m.group(1))
    # A band "not established" quotes the monograph's own sentence saying so.
    sentence = not_established_sentence(sections)
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
    parsed.summary = " ".join(sentences(first_paragraph)[:1])
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
    for position, item in enumerate(parsed.formulations):
        _create(models.Formulation, drug=drug, position=position, **item.__dict__)
    load_packages(drug, parsed, models=models)
    load_clinical_rules(drug, parsed, models=models)
    return drug, True


def load_packages(drug, parsed: ParsedMonograph, *, models) -> int:
    """The packages of the price tables that the drug's strengths do not have yet.

    Table n prices the drug's n-th sellable tablet or capsule strength; a pack size the
    strength already has (whatever staff made of its price or stock) is left alone, so
    this adds new sizes to a catalog loaded before they were in the file. Returns how
    many packages it created.
    """
    solid = (DosageForm.TABLET, DosageForm.CAPSULE)
    sellable_solids = [
        f
        for f in models.Formulation.objects.filter(drug=drug).order_by("position", "pk")
        if f.sellable and f.form in solid
    ]
    if len({p.table for p in parsed.packages}) > len(sellable_solids):
        raise MonographFormatError("More price tables than tablet strengths to assign them to.")
    created = 0
    for package in parsed.packages:
        formulation = sellable_solids[package.table]
        if models.Package.objects.filter(
            formulation=formulation, pill_count=package.pill_count
        ).exists():
            continue
        models.Package.objects.create(
            formulation=formulation,
            pill_count=package.pill_count,
            price=package.price,
            stock=INITIAL_STOCK,
        )
        created += 1
    return created


def read_seed(name: str = "baclofen-monograph.txt") -> ParsedMonograph:
    return parse_monograph((DATA_DIR / name).read_text(encoding="utf-8"))
