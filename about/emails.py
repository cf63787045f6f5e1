"""Every email goes out in the pharmacy's name: its From and its signature."""

from email.utils import formataddr

from django.conf import settings
from django.core.mail import EmailMessage
from django.template.loader import render_to_string

from .selectors import Facts, facts


def sender(pharmacy: Facts | None = None) -> str:
    """ "Name <address>" from the pharmacy's details; DEFAULT_FROM_EMAIL until staff
    have filled them in."""
    pharmacy = pharmacy or facts()
    identity = pharmacy.identity
    if not identity or not identity.get("sender_email"):
        return settings.DEFAULT_FROM_EMAIL
    return formataddr((identity["name"], identity["sender_email"]))


def pharmacy_name(pharmacy: Facts | None = None) -> str:
    """The name patients know; the site's name until staff fill in the details."""
    pharmacy = pharmacy or facts()
    return pharmacy.name or settings.SITE_NAME


def subject(text: str, pharmacy: Facts | None = None) -> str:
    """An email's subject, ending with the pharmacy's name so the inbox says who wrote."""
    return f"{text} - {pharmacy_name(pharmacy)}"


def signature(pharmacy: Facts | None) -> str:
    """The name, phone and address that end an email (the site's name alone until the
    pharmacy's details are filled in, or when they cannot be read)."""
    identity = pharmacy.identity if pharmacy else None
    if not identity:
        return settings.SITE_NAME
    return "\n".join(
        [
            identity["name"],
            f"Phone: {identity['phone']}",
            identity["address_line"],
        ]
    )


def pharmacy_email(*, template: str, context: dict, title: str, to: list[str]) -> EmailMessage:
    """A plain-text email in the pharmacy's name, its body rendered once.

    The pharmacy's details are read once (one cache get) and given to the From, the
    subject, the body's `SITE_NAME` and the signature's template tag, which would
    otherwise each read them again. `context` may set its own `SITE_NAME`.
    """
    pharmacy = facts()
    body = render_to_string(
        template, {"SITE_NAME": pharmacy_name(pharmacy), **context, "pharmacy": pharmacy}
    )
    return EmailMessage(subject(title, pharmacy), body, from_email=sender(pharmacy), to=to)
