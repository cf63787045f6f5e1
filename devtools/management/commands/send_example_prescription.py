"""Send one correctly signed example e-prescription to the telemedicine intake API.

A request known to be right separates a partner's signing bug from a server bug, and
`--print-only` gives the exact headers and a curl command for the documentation.
"""

import json
import secrets
import shlex
import time
import urllib.error
import urllib.request
from datetime import date
from urllib.parse import urlsplit

from django.core.management.base import BaseCommand, CommandError
from django.utils import timezone

from prescriptions.intake import PARTNER_HEADER, SIGNATURE_HEADER, TOLERANCE_SECONDS, sign
from prescriptions.models import TelemedicinePartner
from prescriptions.npi import npi_check_digit

API_PATH = "/api/telemedicine/prescriptions/"
EXAMPLE_NPI_BASE = "123456789"
TIMEOUT_SECONDS = 30


def example_payload(
    *, prescription_id: str, patient_email: str, npi: str, date_written: date
) -> dict:
    return {
        "prescription_id": prescription_id,
        "patient": {
            "email": patient_email,
            "first_name": "Ada",
            "last_name": "Lovelace",
            "date_of_birth": "1980-05-17",
        },
        "prescriber": {"name": "Dr. Grace Hopper", "npi": npi, "state_license": "NY-123456"},
        "medication": {"drug": "baclofen", "form": "tablet", "strength": "10 mg"},
        "directions": {
            "text": "Take 1 tablet by mouth three times a day",
            "units_per_dose": 1,
            "doses_per_day": 3,
        },
        "quantity": 90,
        "refills": 2,
        "date_written": date_written.isoformat(),
    }


class _RefuseRedirects(urllib.request.HTTPRedirectHandler):
    """Following a redirect would resend the POST as a bodiless GET; showing it is clearer."""

    def redirect_request(self, req, fp, code, msg, headers, newurl):
        return None


class Command(BaseCommand):
    help = "POST a signed example e-prescription to the telemedicine intake API."

    def add_arguments(self, parser):
        parser.add_argument("--url", default="http://127.0.0.1:8000", help="The site's base URL.")
        parser.add_argument("--partner", default="demo-telehealth", help="The partner's slug.")
        parser.add_argument(
            "--secret", help="The signing secret; default: the TelemedicinePartner row's."
        )
        parser.add_argument("--patient-email", default="patient@example.com")
        parser.add_argument("--prescription-id", help="Default: a fresh one, TM-<year>-<hex>.")
        parser.add_argument("--npi", help="Default: a valid NPI built with its check digit.")
        parser.add_argument(
            "--print-only",
            action="store_true",
            help="Print the body, the headers and a curl command instead of sending.",
        )

    def handle(self, *args, **options):
        base = options["url"].rstrip("/")
        if urlsplit(base).scheme not in ("http", "https"):
            raise CommandError(f"--url must start with http:// or https://, not {base!r}.")
        url = base + API_PATH
        partner = options["partner"]
        secret = options["secret"] or self._partner_secret(partner)
        today = timezone.localdate()
        body = json.dumps(
            example_payload(
                prescription_id=options["prescription_id"]
                or f"TM-{today:%Y}-{secrets.token_hex(4).upper()}",
                patient_email=options["patient_email"],
                npi=options["npi"] or EXAMPLE_NPI_BASE + str(npi_check_digit(EXAMPLE_NPI_BASE)),
                date_written=today,
            )
        ).encode("utf-8")
        headers = {
            "Content-Type": "application/json",
            PARTNER_HEADER: partner,
            SIGNATURE_HEADER: sign(secret=secret, body=body, timestamp=int(time.time())),
        }
        if options["print_only"]:
            self._print_request(url, headers, body)
        else:
            self._send(url, headers, body)

    def _partner_secret(self, slug: str) -> str:
        partner = TelemedicinePartner.objects.filter(slug=slug).first()
        if partner is None:
            raise CommandError(
                f"No secret: pass --secret, or create a TelemedicinePartner with the slug "
                f"{slug!r} (or choose another with --partner)."
            )
        if not partner.active:
            self.stderr.write(f"Note: partner {slug!r} is inactive; the server will refuse it.")
        return partner.secret

    def _print_request(self, url: str, headers: dict[str, str], body: bytes) -> None:
        self.stdout.write(f"POST {url}")
        for name, value in headers.items():
            self.stdout.write(f"{name}: {value}")
        self.stdout.write("")
        self.stdout.write(body.decode("utf-8"))
        self.stdout.write("")
        self.stdout.write(
            f"# The signature is valid for {TOLERANCE_SECONDS} seconds and only once."
        )
        command = ["curl", "-sS", "-X", "POST", url]
        for name, value in headers.items():
            command += ["-H", f"{name}: {value}"]
        command += ["--data-binary", body.decode("utf-8")]
        self.stdout.write(shlex.join(command))

    def _send(self, url: str, headers: dict[str, str], body: bytes) -> None:
        request = urllib.request.Request(url, data=body, headers=headers, method="POST")  # noqa: S310 - scheme checked in handle
        opener = urllib.request.build_opener(_RefuseRedirects)
        try:
            with opener.open(request, timeout=TIMEOUT_SECONDS) as response:
                status, answer = response.status, response.read()
        except urllib.error.HTTPError as exc:
            answer = exc.read().decode("utf-8", errors="replace")
            raise CommandError(f"HTTP {exc.code} from {url}:\n{answer}") from None
        except (urllib.error.URLError, OSError) as exc:
            raise CommandError(f"Could not reach {url}: {exc}") from None
        self.stdout.write(f"HTTP {status}")
        self.stdout.write(answer.decode("utf-8", errors="replace"))
