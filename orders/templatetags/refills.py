"""`{% auto_refill_panel prescription %}`: the auto-refill box on a prescription's page.

The prescriptions app knows no orders; its page loads this tag to show where the
patient's auto-refill stands and how to turn it on."""

from django import template

from ..models import AutoRefill

register = template.Library()


@register.inclusion_tag("orders/includes/_auto_refill.html")
def auto_refill_panel(prescription):
    usable = (
        prescription.is_verified
        and not prescription.is_expired()
        and prescription.formulation_id is not None
        and prescription.daily_units is not None
    )
    return {
        "prescription": prescription,
        "auto_refill": AutoRefill.objects.filter(prescription=prescription).first(),
        "usable": usable,
    }
