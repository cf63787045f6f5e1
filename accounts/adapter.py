from allauth.account.adapter import DefaultAccountAdapter

from .addresses import clean_new_address


class AccountAdapter(DefaultAccountAdapter):
    """allauth's adapter with accounts' own rules.

    The site's adapter (pharmacy/account_adapter.py) adds what the other apps do when
    an account changes, so accounts depends on none of them.
    """

    def clean_email(self, email: str) -> str:
        """Sign-up and added addresses: stored canonical, and never a look-alike domain."""
        return clean_new_address(email)
