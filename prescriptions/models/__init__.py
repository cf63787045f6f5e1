from .audit import AuditEvent, DeniedAttempt
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

__all__ = [
    "TRANSITIONS",
    "AlcoholUse",
    "AuditEvent",
    "DeniedAttempt",
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
