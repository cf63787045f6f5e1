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
from .upload import UploadCheck

__all__ = [
    "TRANSITIONS",
    "AlcoholUse",
    "AuditEvent",
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
