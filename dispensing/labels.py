"""The printed label of a dispensed line and the patient leaflet of a drug, as PDF.

Drawn with ReportLab from plain facts (`documents.py` gathers them from the rows), so
nothing here knows a drug: the warnings and the leaflet's text are the monograph's.
The standard fonts keep the text selectable, which is also how the tests read it back.
"""

from dataclasses import dataclass
from datetime import date
from io import BytesIO
from xml.sax.saxutils import escape

from reportlab.lib.pagesizes import inch, letter
from reportlab.lib.styles import ParagraphStyle, getSampleStyleSheet
from reportlab.platypus import Paragraph, SimpleDocTemplate, Spacer
from reportlab.platypus.flowables import HRFlowable

# 21 CFR 209: every dispensed prescription carries this statement (drug-neutral).
SIDE_EFFECTS_STATEMENT = (
    "Call your doctor for medical advice about side effects. "
    "You may report side effects to FDA at 1-800-FDA-1088."
)
LABEL_SIZE = (4 * inch, 6 * inch)


@dataclass(frozen=True)
class PharmacyLines:
    name: str
    address: str
    phone: str


@dataclass(frozen=True)
class LabelFacts:
    pharmacy: PharmacyLines
    prescription_number: str
    patient_name: str
    drug: str
    strength: str
    form: str
    quantity: str
    directions: str
    refills_left: int
    prescriber: str
    dispensed_on: date
    lots: tuple[tuple[str, date], ...]  # lot number, expiry
    pharmacist: str  # empty before the final check
    warnings: tuple[str, ...]


@dataclass(frozen=True)
class LeafletFacts:
    pharmacy: PharmacyLines
    drug: str
    summary: str
    warnings: tuple[str, ...]
    sections: tuple[tuple[str, tuple[str, ...]], ...]  # heading, paragraphs


def _styles():
    sheet = getSampleStyleSheet()
    small = ParagraphStyle("small", parent=sheet["Normal"], fontSize=7.5, leading=9)
    body = ParagraphStyle("body", parent=sheet["Normal"], fontSize=9, leading=11)
    strong = ParagraphStyle("strong", parent=body, fontName="Helvetica-Bold")
    title = ParagraphStyle("title", parent=sheet["Heading2"], fontSize=12, spaceAfter=2)
    heading = ParagraphStyle("heading", parent=sheet["Heading3"], fontSize=10, spaceBefore=6)
    return {"small": small, "body": body, "strong": strong, "title": title, "heading": heading}


def _p(text: str, style) -> Paragraph:
    return Paragraph(escape(text), style)


def _pdf(story, *, pagesize, title: str, margin: float) -> bytes:
    buffer = BytesIO()
    doc = SimpleDocTemplate(
        buffer,
        pagesize=pagesize,
        leftMargin=margin,
        rightMargin=margin,
        topMargin=margin,
        bottomMargin=margin,
        title=title,
        invariant=True,  # the same facts give the same bytes
    )
    doc.build(story)
    return buffer.getvalue()


def render_label(facts: LabelFacts) -> bytes:
    s = _styles()
    pharmacy = facts.pharmacy
    story = [
        _p(pharmacy.name, s["strong"]),
        _p(f"{pharmacy.address} · Tel {pharmacy.phone}", s["small"]),
        HRFlowable(width="100%", thickness=0.5, spaceBefore=2, spaceAfter=3),
        _p(f"Rx {facts.prescription_number}    Date {facts.dispensed_on:%Y-%m-%d}", s["body"]),
        _p(facts.patient_name, s["strong"]),
        _p(f"{facts.drug} {facts.strength} {facts.form}", s["title"]),
        _p(f"Quantity: {facts.quantity}", s["body"]),
        _p(facts.directions, s["strong"]),
        _p(f"Refills left: {facts.refills_left}", s["body"]),
        _p(f"Prescriber: {facts.prescriber}", s["body"]),
        *[_p(f"Lot {number}    Exp {expiry:%Y-%m-%d}", s["body"]) for number, expiry in facts.lots],
        _p(f"Checked by {facts.pharmacist or '(final check pending)'}", s["small"]),
        HRFlowable(width="100%", thickness=0.5, spaceBefore=3, spaceAfter=3),
    ]
    story += [_p(f"WARNING: {warning}", s["small"]) for warning in facts.warnings]
    story += [Spacer(1, 3), _p(SIDE_EFFECTS_STATEMENT, s["small"])]
    return _pdf(
        story,
        pagesize=LABEL_SIZE,
        title=f"Label Rx {facts.prescription_number}",
        margin=0.2 * inch,
    )


def render_leaflet(facts: LeafletFacts) -> bytes:
    s = _styles()
    story = [_p(f"{facts.drug}: information for the patient", s["title"])]
    pharmacy = facts.pharmacy
    if pharmacy.name:
        line = f"From {pharmacy.name}, {pharmacy.address}, tel {pharmacy.phone}"
        story.append(_p(line, s["small"]))
    story.append(Spacer(1, 6))
    if facts.summary:
        story.append(_p(facts.summary, s["body"]))
    if facts.warnings:
        story.append(_p("Important", s["heading"]))
        story += [_p(warning, s["strong"]) for warning in facts.warnings]
    for heading, paragraphs in facts.sections:
        story.append(_p(heading, s["heading"]))
        story += [_p(paragraph, s["body"]) for paragraph in paragraphs]
    story += [Spacer(1, 8), _p(SIDE_EFFECTS_STATEMENT, s["body"])]
    return _pdf(story, pagesize=letter, title=f"{facts.drug} leaflet", margin=0.75 * inch)
