"""allauth's MFA adapter, with the one rule the pharmacy adds: staff keep a second factor."""

from allauth.mfa.adapter import DefaultMFAAdapter
from allauth.mfa.models import Authenticator

from .mfa import SECOND_FACTORS, is_staff_member


class MFAAdapter(DefaultMFAAdapter):
    error_messages = {
        **DefaultMFAAdapter.error_messages,
        "cannot_delete_authenticator": (
            "Staff accounts must keep two-factor authentication, because they open "
            "patient records. To move it to a new phone, ask an administrator to reset "
            "your authenticator; you will then set up the new one when you sign in."
        ),
    }

    def can_delete_authenticator(self, authenticator: Authenticator) -> bool:
        """Patients may turn two-factor off; staff may not remove their last factor
        (allauth would let them, and the next sign-in would then need the password only).
        """
        user = authenticator.user
        if not is_staff_member(user):
            return True
        others = Authenticator.objects.filter(user=user, type__in=SECOND_FACTORS).exclude(
            pk=authenticator.pk
        )
        return others.exists()
