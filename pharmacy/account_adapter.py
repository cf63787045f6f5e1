"""The site's allauth adapter: accounts' rules, and what the other apps do when an
account changes.

It lives in the project, above the apps, because it joins them: accounts sits below
prescriptions (which reads its addresses), so accounts cannot call into prescriptions
without the two apps depending on each other.
"""

from about.emails import sender, subject
from accounts.adapter import AccountAdapter as AccountsAdapter
from prescriptions.services import attach_waiting_prescriptions


class AccountAdapter(AccountsAdapter):
    def get_from_email(self) -> str:
        """allauth's emails (confirmation, password reset, notices) come from the pharmacy."""
        return sender()

    def format_email_subject(self, subject_text: str) -> str:
        """allauth's subjects end with the pharmacy's name, as the site's own do."""
        return subject(subject_text)

    def confirm_email(self, request, email_address) -> bool:
        """A confirmed address claims the prescriptions sent for it before sign-up.

        The service decides which: only those of the account whose verified primary
        address it is, and whose name and date of birth they carry.
        """
        confirmed = super().confirm_email(request, email_address)
        if confirmed:
            attach_waiting_prescriptions(user=email_address.user, email=email_address.email)
        return confirmed
