from allauth.account.adapter import DefaultAccountAdapter

from .addresses import clean_new_address


class AccountAdapter(DefaultAccountAdapter):
    def clean_email(self, email: str) -> str:
        """Sign-up and added addresses: stored canonical, and never a look-alike domain."""
        return clean_new_address(email)

    def confirm_email(self, request, email_address) -> bool:
        """A confirmed address claims the prescriptions sent for it before sign-up.

        The service decides which: only those of the account whose verified primary
        address it is, and whose name and date of birth they carry.
        """
        confirmed = super().confirm_email(request, email_address)
        if confirmed:
            from prescriptions.services import attach_waiting_prescriptions

            attach_waiting_prescriptions(user=email_address.user, email=email_address.email)
        return confirmed
