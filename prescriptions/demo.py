"""Demo prescriptions data for local development (refused with DEBUG off)."""

from datetime import date

from accounts.demo import require_debug
from catalog.models import MedicationClass

from .models import MedicalProfile
from .services import profile_update


def ensure_demo_profile(patient) -> MedicalProfile:
    """Give the demo patient a filled-in profile, once."""
    require_debug()
    existing = MedicalProfile.objects.filter(user=patient).first()
    if existing:
        return existing
    return profile_update(
        patient=patient,
        data={
            "date_of_birth": date(1979, 4, 12),
            "weight_kg": 72,
            "medication_classes": list(MedicationClass.objects.filter(slug="nsaids")),
            "other_medications": "Ibuprofen 200 mg when needed for back pain",
            "alcohol_use": "occasional",
        },
    )
