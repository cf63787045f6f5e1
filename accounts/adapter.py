import math

from allauth.account.adapter import DefaultAccountAdapter
from django.conf import settings
from django.core.exceptions import ValidationError

from .addresses import clean_new_address

SECONDS_PER_UNIT = {"s": 1, "m": 60, "h": 3600, "d": 86400}


def lockout_minutes() -> int:
    """How long a locked-out account waits at most: the longest window of the
    `login_failed` rates (allauth's "amount/period/per" syntax, e.g. "5/5m/key").

    Refused attempts are not counted, so once the longest window has passed since the
    last counted failure, signing in works again.
    """
    longest = 0.0
    for rate in settings.ACCOUNT_RATE_LIMITS.get("login_failed", "").split(","):
        parts = rate.strip().split("/")
        if len(parts) < 2 or not parts[1] or parts[1][-1] not in SECONDS_PER_UNIT:
            continue
        period = parts[1]
        longest = max(longest, float(period[:-1] or 1) * SECONDS_PER_UNIT[period[-1]])
    return max(1, math.ceil(longest / 60))


class AccountAdapter(DefaultAccountAdapter):
    """allauth's adapter with accounts' own rules.

    The site's adapter (pharmacy/account_adapter.py) adds what the other apps do when
    an account changes, so accounts depends on none of them.
    """

    def clean_email(self, email: str) -> str:
        """Sign-up and added addresses: stored canonical, and never a look-alike domain."""
        return clean_new_address(email)

    def validation_error(self, code, *args) -> ValidationError:
        """allauth's "Try again later" leaves a locked-out patient guessing: say how long."""
        if code == "too_many_login_attempts":
            minutes = lockout_minutes()
            wait = "1 minute" if minutes == 1 else f"{minutes} minutes"
            return ValidationError(
                "Too many failed login attempts for this account. For your safety, signing "
                f"in is paused: wait {wait} and try again, or reset your password.",
                code=code,
            )
        return super().validation_error(code, *args)
