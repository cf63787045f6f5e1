from .audit import AuditEvent, DeniedAttempt
from .consultation import (
    CONSULTATION_MACHINE,
    Consultation,
    ConsultationQuestion,
    ConsultationStatus,
    ConsultationStatusChange,
)
from .exchange import PartnerExchange, PartnerRequest, RenewalRequest
from .partner import RequestsFormat, TelemedicinePartner
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
    "CONSULTATION_MACHINE",
    "PRESCRIPTION_MACHINE",
    "AlcoholUse",
    "AuditEvent",
    "ClinicalReview",
    "Consultation",
    "ConsultationQuestion",
    "ConsultationStatus",
    "ConsultationStatusChange",
    "DeniedAttempt",
    "KidneyDisease",
    "MedicalProfile",
    "PartnerExchange",
    "PartnerRequest",
    "Prescription",
    "PrescriptionDocument",
    "RenewalRequest",
    "RequestsFormat",
    "Source",
    "Status",
    "StatusChange",
    "TelemedicinePartner",
    "UploadCheck",
    "private_storage",
]
