"""The facts a label and a leaflet print, read from the rows: the prescription, the lots
dispensed (or, before the final check, those it is to pick), the monograph's warnings
and patient sections, and the pharmacy's own details from the `about` app."""

from django.core.exceptions import ValidationError
from django.utils import timezone

from about.selectors import facts as pharmacy_facts
from catalog.models import DOSING_TABLE_MARKER, Drug
from orders.models import OrderLine

from .labels import LabelFacts, LeafletFacts, PharmacyLines
from .models import DispenseRecord
from .services.final_check import final_check_plan


def _pharmacy(*, required: bool = True) -> PharmacyLines:
    identity = pharmacy_facts().identity
    if identity is None and not required:
        return PharmacyLines("", "", "")
    if identity is None:
        raise ValidationError(
            "The pharmacy's details are not filled in (Admin > Pharmacy details): a label must "
            "carry the pharmacy's name, address and phone."
        )
    return PharmacyLines(identity["name"], identity["address_line"], identity["phone"])


def drug_warnings(drug: Drug) -> tuple[str, ...]:
    """The drug's own warnings, as staff keep them: never stop suddenly (a flag and its
    sentence), then the monograph's safety callouts in page order."""
    warnings = []
    if drug.must_not_stop_suddenly and drug.stop_suddenly_warning:
        warnings.append(drug.stop_suddenly_warning.strip())
    for callout in drug.sections.exclude(callout="").values_list("callout", flat=True):
        if callout.strip() not in warnings:
            warnings.append(callout.strip())
    return tuple(warnings)


def _plural(form: str, units: int) -> str:
    return form if units == 1 or form.endswith("s") else f"{form}s"


def label_facts(*, line: OrderLine) -> LabelFacts:
    """The label of one order line. After the final check it prints the lots dispensed
    and the pharmacist; before it, the lots the check is to pick."""
    prescription = line.prescription
    if prescription is None:
        raise ValidationError("This line has no prescription yet: there is no label to print.")
    formulation = line.package.formulation
    records = list(
        DispenseRecord.objects.filter(order_line=line, returned__isnull=True)
        .select_related("pharmacist")
        .order_by("pk")
    )
    if records:
        lots = tuple((r.lot_number, r.expiry_date) for r in records)
        pharmacist = records[0].pharmacist.get_full_name() or records[0].pharmacist.email
        dispensed_on = timezone.localdate(records[0].at)
    else:
        plan = next(p for p in final_check_plan(order=line.order) if p.line.pk == line.pk)
        lots = tuple((a.lot_number, a.expiry_date) for a in plan.allocations)
        pharmacist = ""
        dispensed_on = timezone.localdate()
    form = formulation.get_form_display().lower()
    quantity = prescription.quantity or 0
    fills_left = prescription.units_remaining // quantity if quantity else 0
    prescriber = prescription.prescriber_name
    if prescription.prescriber_npi:
        prescriber = f"{prescriber} (NPI {prescription.prescriber_npi})"
    return LabelFacts(
        pharmacy=_pharmacy(),
        prescription_number=str(prescription.pk),
        patient_name=prescription.patient_name or line.order.patient.get_full_name(),
        drug=formulation.drug.name,
        strength=formulation.strength_label,
        form=form,
        quantity=f"{line.units} {_plural(form, line.units)}",
        directions=prescription.directions,
        refills_left=fills_left,
        prescriber=prescriber,
        dispensed_on=dispensed_on,
        lots=lots,
        pharmacist=pharmacist,
        warnings=drug_warnings(formulation.drug),
    )


def leaflet_facts(*, drug: Drug) -> LeafletFacts:
    """The leaflet of a drug: its summary, warnings and the sections staff mark for it."""
    sections = []
    for section in drug.sections.filter(in_patient_leaflet=True).order_by("position", "pk"):
        paragraphs = tuple(
            " ".join(part.split()) for part in section.body.split("\n\n") if part.strip()
        )
        paragraphs = tuple(p for p in paragraphs if p != DOSING_TABLE_MARKER)
        if paragraphs:
            sections.append((section.heading, paragraphs))
    return LeafletFacts(
        pharmacy=_pharmacy(required=False),
        drug=drug.name,
        summary=drug.summary,
        warnings=drug_warnings(drug),
        sections=tuple(sections),
    )
