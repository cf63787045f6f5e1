from django.conf import settings
from django.contrib.auth import get_user_model
from django.core.management.base import BaseCommand, CommandError

from accounts.mfa import current_totp_code, totp_secret


class Command(BaseCommand):
    help = "Print the current TOTP code of an account (development only, DEBUG must be on)."

    def add_arguments(self, parser):
        parser.add_argument("email")

    def handle(self, *args, email: str, **options):
        if not settings.DEBUG:
            raise CommandError("Refused: TOTP codes are printed only in development (DEBUG on).")
        user = get_user_model().objects.filter(email__iexact=email).first()
        secret = totp_secret(user) if user else None
        if not secret:
            raise CommandError(f"{email} has no TOTP authenticator.")
        self.stdout.write(current_totp_code(secret))
