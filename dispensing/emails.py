"""Dispensing's emails, in the pharmacy's name: a recall and what to do, the counselling
offer of a first fill, and notices of messages (never their content)."""

from django.conf import settings
from django.contrib.auth import get_user_model
from django.core.mail import EmailMessage
from django.urls import reverse

from about.emails import pharmacy_email
from accounts.roles import PHARMACIST

from .models import CounsellingOffer, OrderMessage, RecallNotice


def recall_email(notice: RecallNotice) -> EmailMessage:
    recall = notice.recall
    drug = recall.package.formulation.drug
    context = {
        "patient": notice.patient,
        "recall": recall,
        "package": recall.package,
        "orders": notice.orders,
        "order_count": len(notice.orders.split(", ")) if notice.orders else 0,
        "held_orders": notice.held_orders,
        "held_count": len(notice.held_orders.split(", ")) if notice.held_orders else 0,
        "stop_warnings": [drug.stop_suddenly_warning]
        if drug.must_not_stop_suddenly and drug.stop_suddenly_warning
        else [],
    }
    return pharmacy_email(
        template="dispensing/email/recall.txt",
        context=context,
        title=f"Important: a medicine you received is recalled (lot {recall.lot_number})",
        to=[notice.patient.email],
    )


def send_recall_email(notice: RecallNotice) -> None:
    recall_email(notice).send()


def _absolute(path: str) -> str:
    return f"{settings.SITE_URL.rstrip('/')}{path}"


def counselling_offer_email(offer: CounsellingOffer) -> EmailMessage:
    order = offer.order
    context = {
        "patient": order.patient,
        "order": order,
        "url": _absolute(reverse("dispensing:conversation", args=[order.number])),
        "stop_warnings": [],
    }
    return pharmacy_email(
        template="dispensing/email/counselling_offer.txt",
        context=context,
        title=f"Order {order.number}: a pharmacist can talk you through your new medicine",
        to=[order.patient.email],
    )


def send_counselling_offer_email(offer: CounsellingOffer) -> None:
    counselling_offer_email(offer).send()


def _pharmacists() -> list[str]:
    users = (
        get_user_model()
        .objects.filter(is_active=True, is_staff=True, groups__name=PHARMACIST)
        .order_by("pk")
    )
    return list(users.values_list("email", flat=True))


def message_notice_email(message: OrderMessage) -> EmailMessage | None:
    """A notice that a message waits, where to read it, and never what it says."""
    order = message.order
    if message.from_pharmacist:
        to = [order.patient.email]
        url = _absolute(reverse("dispensing:conversation", args=[order.number]))
        title = f"Order {order.number}: a pharmacist wrote to you"
    else:
        to = _pharmacists()
        url = _absolute(reverse("admin:dispensing_orderconversation_change", args=[order.pk]))
        title = f"Order {order.number}: the patient wrote to the pharmacy"
    if not to:
        return None
    context = {"message": message, "order": order, "url": url, "stop_warnings": []}
    return pharmacy_email(
        template="dispensing/email/message_notice.txt", context=context, title=title, to=to
    )


def send_message_notice_email(message: OrderMessage) -> None:
    email = message_notice_email(message)
    if email is not None:
        email.send()
