"""Demo prescriptions data for local development (refused with DEBUG off)."""

from datetime import date, timedelta
from decimal import Decimal

from django.core.files.uploadedfile import SimpleUploadedFile
from django.utils import timezone

from catalog.models import Drug, Formulation, MedicationClass
from devtools.demo.accounts import require_debug
from prescriptions.intake import IntakeData
from prescriptions.models import (
    ConsultationQuestion,
    MedicalProfile,
    Prescription,
    TelemedicinePartner,
)
from prescriptions.npi import npi_check_digit
from prescriptions.services import (
    prescription_receive_from_partner,
    prescription_request_info,
    prescription_submit_upload,
    prescription_verify,
    profile_confirm,
    profile_update,
)
from prescriptions.uploads import clean_upload

DEMO_PARTNER_SLUG = "demo-telehealth"
DEMO_PARTNER_SECRET = "tmsec_demo_development_only"  # noqa: S105 - DEBUG only


def demo_npi(first_nine: str = "123456789") -> str:
    return first_nine + str(npi_check_digit(first_nine))


def prescription_pdf(lines: list[str]) -> bytes:
    """A one-page PDF that shows `lines` in Helvetica, as a scanned prescription would.

    Written by hand (objects, xref table, trailer) so that the text is real page content
    that a browser displays and a text extractor reads. Characters outside Latin-1 become "?".
    """
    commands = ["BT", "/F1 14 Tf", "18 TL", "72 720 Td"]
    for line in lines:
        escaped = line.replace("\\", "\\\\").replace("(", "\\(").replace(")", "\\)")
        commands.append(f"({escaped}) Tj T*")
    commands.append("ET")
    stream = "\n".join(commands).encode("latin-1", errors="replace")
    objects = [
        b"<< /Type /Catalog /Pages 2 0 R >>",
        b"<< /Type /Pages /Kids [3 0 R] /Count 1 >>",
        b"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 612 792] "
        b"/Resources << /Font << /F1 4 0 R >> >> /Contents 5 0 R >>",
        b"<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica /Encoding /WinAnsiEncoding >>",
        b"<< /Length %d >>\nstream\n%s\nendstream" % (len(stream), stream),
    ]
    pdf = bytearray(b"%PDF-1.4\n%\xe2\xe3\xcf\xd3\n")
    offsets = []
    for number, body in enumerate(objects, start=1):
        offsets.append(len(pdf))
        pdf += b"%d 0 obj\n%s\nendobj\n" % (number, body)
    xref = len(pdf)
    pdf += b"xref\n0 %d\n0000000000 65535 f \n" % (len(objects) + 1)
    pdf += b"".join(b"%010d 00000 n \n" % offset for offset in offsets)
    pdf += b"trailer\n<< /Size %d /Root 1 0 R >>\nstartxref\n%d\n%%%%EOF\n" % (
        len(objects) + 1,
        xref,
    )
    return bytes(pdf)


def _document(name: str, content: bytes):
    """The demo upload goes through the same checks as a patient's."""
    return clean_upload(SimpleUploadedFile(name, content, content_type="application/pdf"))


def ensure_demo_profile(patient) -> MedicalProfile:
    """Give the demo patient a filled-in profile, once, confirmed recently (the review
    refuses orders on a profile not confirmed within PROFILE_CONFIRM_DAYS)."""
    require_debug()
    existing = MedicalProfile.objects.filter(user=patient).first()
    if existing:
        return profile_confirm(patient=patient)
    return profile_update(
        patient=patient,
        data={
            "date_of_birth": date(1979, 4, 12),
            "weight_kg": 72,
            "medication_classes": list(MedicationClass.objects.filter(slug="nsaids")),
            "other_medications": "Ibuprofen 200 mg when needed for back pain",
            "kidney_disease": "none",
            "hepatic_impairment": False,
            "pregnant": False,
            "breastfeeding": False,
            "active_peptic_ulcer": False,
            "epilepsy": False,
            "psychiatric_disorder": False,
            "alcohol_use": "none",
        },
    )


def ensure_demo_prescriptions(*, patient, pharmacist) -> TelemedicinePartner:
    """A verified prescription the demo patient can order against, and a queue for the
    demo pharmacist: a clean e-prescription, one with a blocking check, and an upload
    waiting for the patient's answer. Created once."""
    require_debug()
    partner, _ = TelemedicinePartner.objects.get_or_create(
        slug=DEMO_PARTNER_SLUG,
        defaults={"name": "Demo Telehealth (development)", "secret": DEMO_PARTNER_SECRET},
    )
    if Prescription.objects.filter(patient=patient).exists():
        return partner
    baclofen = Drug.objects.get(slug="baclofen")
    tablets = {
        f.strength_label: f for f in Formulation.objects.filter(drug=baclofen, form="tablet")
    }
    today = timezone.localdate()

    def e_prescription(reference: str, formulation, units_per_dose, doses_per_day, quantity):
        return IntakeData(
            partner_reference=reference,
            patient_email=patient.email,
            patient_first_name=patient.first_name,
            patient_last_name=patient.last_name,
            patient_date_of_birth=date(1979, 4, 12),
            prescriber_name="Dr. Grace Hopper",
            prescriber_npi=demo_npi(),
            prescriber_license="NY-123456",
            drug=baclofen,
            formulation=formulation,
            directions=f"Take {units_per_dose} tablet(s) by mouth {doses_per_day} times a day",
            units_per_dose=Decimal(units_per_dose),
            doses_per_day=doses_per_day,
            quantity=quantity,
            refills=1,
            date_written=today - timedelta(days=2),
        )

    verified, _ = prescription_receive_from_partner(
        partner=partner, data=e_prescription("DEMO-0001", tablets["10 mg"], 1, 3, 90)
    )
    # Already verified, so the demo patient can order 10 mg tablets straight away.
    prescription_verify(
        prescription_id=verified.pk, pharmacist=pharmacist, warnings_acknowledged=True
    )
    # 20 mg twice a day beside the verified 10 mg three times a day: 70 mg/day together,
    # within the adult maximum, so only the duplicate-therapy warning.
    prescription_receive_from_partner(
        partner=partner, data=e_prescription("DEMO-0003", tablets["20 mg"], 1, 2, 60)
    )
    # 2 x 20 mg four times a day = 160 mg/day: above the adult maximum, a blocking check.
    prescription_receive_from_partner(
        partner=partner, data=e_prescription("DEMO-0002", tablets["20 mg"], 2, 4, 120)
    )
    upload = prescription_submit_upload(
        patient=patient,
        documents=[
            _document(
                "prescription-photo.pdf",
                prescription_pdf(
                    [
                        "Dr. Ada Byron, MD - NPI " + demo_npi("987654321"),
                        f"Patient: {patient.get_full_name()}",
                        "Rx: Baclofen 10 mg tablets",
                        "Sig: 1 tablet three times daily",
                        "Disp: 90    Refills: 2",
                    ]
                ),
            )
        ],
        note="My new prescription from Dr. Byron.",
        drug=baclofen,
    )
    prescription_request_info(
        prescription_id=upload.pk,
        pharmacist=pharmacist,
        message="The date on the prescription is not readable. Could you send a clearer photo?",
    )
    return partner


# The demo drug's consultation questions, as a pharmacist would write them in the admin.
DEMO_CONSULTATION_QUESTIONS = (
    (
        "Do you have muscle spasms or stiffness from multiple sclerosis or a spinal cord "
        "injury or disease?",
        ConsultationQuestion.Kind.YES_NO,
    ),
    (
        "Have you taken baclofen before? If so, at what dose, and why did you stop?",
        ConsultationQuestion.Kind.TEXT,
    ),
)


def ensure_demo_consultation_questions() -> None:
    """Baclofen's consultation questionnaire, so "Get a prescription online" asks
    something of its own. Created once."""
    require_debug()
    baclofen = Drug.objects.get(slug="baclofen")
    if ConsultationQuestion.objects.filter(drug=baclofen).exists():
        return
    for position, (text, kind) in enumerate(DEMO_CONSULTATION_QUESTIONS, start=1):
        ConsultationQuestion.objects.create(
            drug=baclofen,
            text=text,
            kind=kind,
            position=position,
            required=kind == ConsultationQuestion.Kind.YES_NO,
        )
