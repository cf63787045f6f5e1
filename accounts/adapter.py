from allauth.account.adapter import DefaultAccountAdapter


class AccountAdapter(DefaultAccountAdapter):
    def confirm_email(self, request, email_address) -> bool:
        """A confirmed address claims the prescriptions sent for it before sign-up."""
        confirmed = super().confirm_email(request, email_address)
        if confirmed:
            from prescriptions.services import attach_waiting_prescriptions

            attach_waiting_prescriptions(user=email_address.user, email=email_address.email)
        return confirmed
