from django.core.exceptions import ImproperlyConfigured
from django.core.management.base import BaseCommand, CommandError

from accounts.demo import DEMO_PASSWORD, ensure_demo_accounts


class Command(BaseCommand):
    help = "Create the demo accounts (development only; refused when DEBUG is off)."

    def add_arguments(self, parser):
        parser.add_argument("--url", default="http://127.0.0.1:8000", help="Where the site runs.")

    def handle(self, *args, url: str, **options):
        try:
            accounts = ensure_demo_accounts()
        except ImproperlyConfigured as exc:
            raise CommandError(str(exc)) from exc
        self.stdout.write(self.style.SUCCESS("Demo accounts (development only):"))
        for account in accounts:
            self.stdout.write(f"  {account.role:<15} {account.email:<28} password: {DEMO_PASSWORD}")
        self.stdout.write(f"  Site: {url}/   Admin: {url}/admin/")
        self.stdout.write("  Email is not sent: it is printed to this console.")
