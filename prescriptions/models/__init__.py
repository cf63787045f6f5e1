from .audit import AuditEvent
from .partner import TelemedicinePartner
from .prescription import (
    TRANSITIONS,
    Prescription,
    PrescriptionDocument,
    Source,
    Status,
    StatusChange,
    private_storage,
)
from .profile import AlcoholUse, KidneyDisease, MedicalProfile
from .review import ClinicalReview

__all__ = [
    "TRANSITIONS",
    "AlcoholUse",
    "AuditEvent",
    "ClinicalReview",
    "KidneyDisease",
    "MedicalProfile",
    "Prescription",
    "PrescriptionDocument",
    "Source",
    "Status",
    "StatusChange",
    "TelemedicinePartner",
    "private_storage",
]
