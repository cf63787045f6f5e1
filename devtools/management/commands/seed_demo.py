from django.core.exceptions import ImproperlyConfigured
from django.core.management.base import BaseCommand, CommandError

from accounts.mfa import current_totp_code
from devtools.demo.accounts import DEMO_PASSWORD, PATIENT, PHARMACIST_ACCOUNT, ensure_demo_accounts
from devtools.demo.pharmacy import ensure_demo_pharmacy
from devtools.demo.prescriptions import ensure_demo_prescriptions, ensure_demo_profile
from devtools.demo.shipping import ensure_demo_shipping


class Command(BaseCommand):
    help = "Create the demo accounts and data (development only; refused when DEBUG is off)."

    def add_arguments(self, parser):
        parser.add_argument("--url", default="http://127.0.0.1:8000", help="Where the site runs.")

    def handle(self, *args, url: str, **options):
        try:
            pharmacy = ensure_demo_pharmacy()
            shipping = ensure_demo_shipping()
            logins = ensure_demo_accounts()
            users = {login.account: login.user for login in logins}
            ensure_demo_profile(users[PATIENT])
            partner = ensure_demo_prescriptions(
                patient=users[PATIENT], pharmacist=users[PHARMACIST_ACCOUNT]
            )
        except ImproperlyConfigured as exc:
            raise CommandError(str(exc)) from exc
        out = self.stdout.write
        out(
            self.style.SUCCESS(
                "Demo accounts (development only), password for all: " + DEMO_PASSWORD
            )
        )
        for login in logins:
            account = login.account
            where = f"{url}/admin/" if account.is_staff else f"{url}/accounts/login/"
            out(f"  {account.role:<14} {account.email:<24} sign in at {where}")
            if login.totp_secret:
                out(
                    f"  {'':<14} TOTP secret {login.totp_secret}"
                    f" (add it to an authenticator app, or run"
                    f" `manage.py totp_code {account.email}`; code now: "
                    f"{current_totp_code(login.totp_secret)})"
                )
        out(
            f"  Telemedicine partner '{partner.slug}', secret {partner.secret}: "
            f"`manage.py send_example_prescription --url {url}` sends a signed example."
        )
        out(f"  Pharmacy details, licences and notices: {url}/admin/about/ ({pharmacy.name})")
        out(
            "  Delivery options: "
            + ", ".join(f"{option.name} ${option.price}" for option in shipping)
            + f" (edit them at {url}/admin/orders/shippingoption/)"
        )
        out(f"  Site: {url}/")
        out("  Email is not sent: it is printed to this console (sign-up links, receipts).")
