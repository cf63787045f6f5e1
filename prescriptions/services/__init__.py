"""State changes of the prescriptions app. Each runs in one transaction."""

from .attachment import attach_waiting_prescriptions, prescription_accept_identity
from .checks import prescription_run_checks
from .consultation_answers import consultation_decline, consultation_link
from .consultations import consultation_request
from .identity import prescription_is_own
from .outbox import partner_request_decline, partner_request_send, partner_requests_send_due
from .prescriptions import (
    prescription_receive_from_partner,
    prescription_recheck,
    prescription_reject,
    prescription_release_units,
    prescription_request_info,
    prescription_reserve_units,
    prescription_respond,
    prescription_submit_upload,
    prescription_update_details,
    prescription_verify,
    recheck_patient_prescriptions,
)
from .profile import PROFILE_M2M_FIELDS, profile_confirm, profile_update
from .queue import prescription_order_waiting_refresh
from .renewals import renewal_by_partner, renewal_decline, renewal_need, renewal_request
from .review import (
    prescription_allow_early_refill,
    prescription_review_again,
    prescription_use_early_refill,
)
from .uploads import upload_check_claim

__all__ = [
    "PROFILE_M2M_FIELDS",
    "attach_waiting_prescriptions",
    "consultation_decline",
    "consultation_link",
    "consultation_request",
    "partner_request_decline",
    "partner_request_send",
    "partner_requests_send_due",
    "prescription_accept_identity",
    "prescription_allow_early_refill",
    "prescription_is_own",
    "prescription_order_waiting_refresh",
    "prescription_receive_from_partner",
    "prescription_recheck",
    "prescription_reject",
    "prescription_release_units",
    "prescription_request_info",
    "prescription_reserve_units",
    "prescription_respond",
    "prescription_review_again",
    "prescription_run_checks",
    "prescription_submit_upload",
    "prescription_update_details",
    "prescription_use_early_refill",
    "prescription_verify",
    "profile_confirm",
    "profile_update",
    "recheck_patient_prescriptions",
    "renewal_by_partner",
    "renewal_decline",
    "renewal_need",
    "renewal_request",
    "upload_check_claim",
]
