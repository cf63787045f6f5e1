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
from .upload import UploadCheck

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
    "UploadCheck",
    "private_storage",
]
