from .audit import AuditEvent, DeniedAttempt
from .exchange import PartnerExchange, PartnerRequest, RenewalRequest
from .partner import TelemedicinePartner
from .prescription import (
    PRESCRIPTION_MACHINE,
    Prescription,
    PrescriptionDocument,
    Source,
    Status,
    StatusChange,
    private_storage,
)
from .profile import AlcoholUse, KidneyDisease, MedicalProfile
from .review import ClinicalReview
from .upload import UploadCheck

__all__ = [
    "PRESCRIPTION_MACHINE",
    "AlcoholUse",
    "AuditEvent",
    "ClinicalReview",
    "DeniedAttempt",
    "KidneyDisease",
    "MedicalProfile",
    "PartnerExchange",
    "PartnerRequest",
    "Prescription",
    "PrescriptionDocument",
    "RenewalRequest",
    "Source",
    "Status",
    "StatusChange",
    "TelemedicinePartner",
    "UploadCheck",
    "private_storage",
]
