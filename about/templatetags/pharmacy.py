"""The pharmacy's details in any template: the footer of every page and the signature
of every email. Neither may turn a page into an error: an error page renders them too,
possibly while the database or the cache is down."""

from django import template
from django.conf import settings
from django.db import DatabaseError
from redis.exceptions import RedisError

from ..emails import signature
from ..selectors import Facts, facts

register = template.Library()

UNAVAILABLE = (DatabaseError, RedisError, OSError)


def _facts(context) -> Facts | None:
    """The page's own facts if its view read them (one cache get per page), else the
    cache's; None when neither the cache nor the database answers."""
    given = context.get("pharmacy")
    if isinstance(given, Facts):
        return given
    try:
        return facts()
    except UNAVAILABLE:
        return None


@register.inclusion_tag("about/includes/_footer.html", takes_context=True)
def pharmacy_footer(context):
    pharmacy = _facts(context)
    return {
        "pharmacy": pharmacy,
        "licences": pharmacy.current_licences() if pharmacy else [],
    }


@register.simple_tag(takes_context=True)
def pharmacy_name(context) -> str:
    pharmacy = _facts(context)
    return pharmacy.name if pharmacy and pharmacy.name else settings.SITE_NAME


@register.simple_tag(takes_context=True)
def pharmacy_signature(context) -> str:
    """Plain text: the name, phone and address, for the end of an email."""
    return signature(_facts(context))
