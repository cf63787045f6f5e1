import secrets

from django.db import models


def new_partner_secret() -> str:
    return f"tmsec_{secrets.token_urlsafe(32)}"


class RequestsFormat(models.TextChoices):
    JSON = "json", "Our JSON"
    FHIR = "fhir", "FHIR R4 (a Bundle with a Task)"


class TelemedicinePartner(models.Model):
    """A telemedicine service allowed to send e-prescriptions through the signed API.

    The secret is kept in clear because verifying an HMAC needs it; it is shown
    only to administrators.
    """

    name = models.CharField(max_length=200, unique=True)
    slug = models.SlugField(
        max_length=50, unique=True, help_text="Sent by the partner in the X-Partner header."
    )
    secret = models.CharField(
        max_length=100,
        default=new_partner_secret,
        help_text="Shared signing secret. Replace it to revoke the old one.",
    )
    active = models.BooleanField(default=True, help_text="Inactive partners are refused (401).")
    requests_url = models.URLField(
        "requests URL",
        blank=True,
        help_text="Where the pharmacy sends renewal and consultation requests (signed POSTs, "
        "retried until acknowledged). Empty: patients forward renewal requests to their "
        "prescriber, and cannot choose this partner for a consultation.",
    )
    requests_format = models.CharField(
        max_length=10,
        choices=RequestsFormat,
        default=RequestsFormat.JSON,
        help_text="How the requests are written: our JSON, or FHIR R4 for a partner whose "
        "system reads FHIR (application/fhir+json).",
    )
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["name"]

    def __str__(self):
        return self.name
