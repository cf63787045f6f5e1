"""The auto-refill emails that are about no order yet: the notice a few days before, and
why a refill was not placed. (After an order is placed, the order's own emails follow:
the receipt, or "your card was declined".) Plain text, in the pharmacy's name, with the
medicine's own warning never to stop it suddenly."""

from django.core.mail import EmailMessage
from django.urls import reverse

from about.emails import pharmacy_email

from .delivery import ShippingOption
from .emails import absolute_url, money
from .refill_models import AutoRefillCycle
from .supply import stop_warnings

SUBJECTS = {
    "notice": "Your auto-refill of {medicine} is on {day}",
    "refused": "Your auto-refill of {medicine} was not placed",
}


def auto_refill_email(cycle: AutoRefillCycle, kind: str) -> EmailMessage:
    auto_refill = cycle.auto_refill
    package = auto_refill.package
    drug = package.formulation.drug
    items = package.price * auto_refill.quantity
    # What the card is charged: the packages and the delivery the order will be placed
    # with (checkout's own default), at today's prices.
    delivery = ShippingOption.objects.default()
    page = absolute_url(reverse("orders:auto_refill", args=[auto_refill.prescription_id]))
    context = {
        "cycle": cycle,
        "auto_refill": auto_refill,
        "patient": auto_refill.patient,
        "description": f"{auto_refill.quantity} × {drug.name} {package.label}",
        "total": money(items + (delivery.price if delivery else 0)),
        "delivery": delivery,
        "page_url": page,
        "skip_url": page + "#skip",
        "order_url": absolute_url(drug.get_absolute_url()),
        "prescription_url": absolute_url(auto_refill.prescription.get_absolute_url()),
        "stop_warnings": stop_warnings([drug]),
    }
    day = f"{cycle.run_on:%B} {cycle.run_on.day}"
    return pharmacy_email(
        template=f"orders/email/auto_refill_{kind}.txt",
        context=context,
        title=SUBJECTS[kind].format(medicine=drug.name.lower(), day=day),
        to=[auto_refill.patient.email],
    )
