"""Serve the local telemedicine partner (devtools.partner_standin) as the demo partner."""

import time

from django.core.management.base import BaseCommand, CommandError

from devtools.demo.prescriptions import DEMO_PARTNER_SLUG
from devtools.partner_standin import PartnerStandin
from prescriptions.models import TelemedicinePartner


class Command(BaseCommand):
    help = "Run the local partner stand-in (clinician page, renewal requests) until Ctrl-C."

    def add_arguments(self, parser):
        parser.add_argument("--port", type=int, default=12112)
        parser.add_argument("--slug", default=DEMO_PARTNER_SLUG)

    def handle(self, *args, port: int, slug: str, **options):
        partner = TelemedicinePartner.objects.filter(slug=slug).first()
        if partner is None:
            raise CommandError(f"No partner {slug!r}: run `manage.py seed_demo` first.")
        standin = PartnerStandin(slug=partner.slug, secret=partner.secret, port=port).start()
        if partner.requests_url != standin.requests_url:
            partner.requests_url = standin.requests_url
            partner.save(update_fields=["requests_url"])
        self.stdout.write(f"Partner stand-in (clinician page): {standin.url}/")
        try:
            while True:
                time.sleep(3600)
        except KeyboardInterrupt:
            standin.stop()
