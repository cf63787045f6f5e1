"""The demo pharmacy's details, licences and notices: obviously a demonstration, in
plausible words, so every page and email shows what a real pharmacy would fill in."""

from datetime import timedelta

from django.utils import timezone
from simple_history.utils import update_change_reason

from about.models import LicenceKind, PharmacyIdentity, Policy, PolicyKind, StateLicence

IDENTITY = {
    "legal_name": "Northside Demo Pharmacy LLC",
    "name": "Northside Pharmacy (demo)",
    "street_address": "100 Example Avenue, Suite 2",
    "city": "Albany",
    "state": "NY",
    "zip_code": "12207",
    "phone": "(555) 010-0142",
    "email": "care@northside-pharmacy.example",
    "opening_hours": (
        "Monday to Friday: 8 am to 8 pm\nSaturday: 9 am to 5 pm\nSunday and holidays: closed"
    ),
    "pharmacist_in_charge": "Dana Rivera, PharmD (demo)",
    "pharmacist_licence_number": "NY-RPH-000000 (demo)",
    "accreditation": "Demo data: a real pharmacy lists here the accreditations it holds.",
    "sender_email": "no-reply@northside-pharmacy.example",
}

# A handful of states, New York (the demo patient's) among them.
LICENCES = [
    ("NY", LicenceKind.PHARMACY, "DEMO-NY-031415"),
    ("NJ", LicenceKind.NON_RESIDENT, "DEMO-NJ-271828"),
    ("PA", LicenceKind.NON_RESIDENT, "DEMO-PA-161803"),
    ("CT", LicenceKind.NON_RESIDENT, "DEMO-CT-141421"),
    ("MA", LicenceKind.NON_RESIDENT, "DEMO-MA-173205"),
]

POLICIES = {
    PolicyKind.PRIVACY: (
        "Notice of Privacy Practices",
        "This notice describes how medical information about you may be used and "
        "disclosed and how you can get access to this information. Please review it "
        "carefully. (Demo text: a real pharmacy publishes its own notice.)\n\n"
        "We use your health information to fill your prescriptions, to check them for "
        "safety, to bill for them and to run the pharmacy. We share it with your "
        "prescriber, your insurer or others only as the law allows or you authorise.\n\n"
        "You have the right to see and get a copy of your health information, to ask us "
        "to correct it, to ask us to limit what we share, to get a list of those we "
        "shared it with, and to get a paper copy of this notice. You can download your "
        "medical profile from your account page at any time.\n\n"
        "If you believe your privacy rights were violated, you can complain to us or to "
        "the U.S. Department of Health and Human Services Office for Civil Rights. We "
        "will not retaliate against you for filing a complaint.",
    ),
    PolicyKind.TERMS: (
        "Terms of use",
        "These terms apply to your use of this site. (Demo text.)\n\n"
        "Prescription medicines are dispensed only against a valid prescription that one "
        "of our pharmacists has verified. We ship only to the states where the pharmacy "
        "is licensed, listed on the contact page.\n\n"
        "The information on this site does not replace the advice of your doctor or "
        "pharmacist. In an emergency, call 911.",
    ),
    PolicyKind.RETURNS: (
        "Returns of medicines",
        "For your safety and that of other patients, medicines cannot be returned once "
        "they have left the pharmacy, unless we made a mistake. (Demo text.)\n\n"
        "If your order arrives damaged, incomplete or not as prescribed, call us within "
        "14 days: we replace it or refund it in full, and tell you how to dispose of the "
        "medicine safely.\n\n"
        "An order you cancel before it is dispatched is refunded in full.",
    ),
    PolicyKind.PHARMACIST: (
        "How to reach a pharmacist",
        "A pharmacist answers questions about your medicines, free of charge, during "
        "opening hours: call the pharmacy and ask for the pharmacist. (Demo text.)\n\n"
        "You can also reply to any email about your prescription or order; a pharmacist "
        "answers within one working day.\n\n"
        "In an emergency, call 911. For a poisoning, call Poison Control at 1-800-222-1222.",
    ),
}


# The first version of each row in its history says where its values came from.
DEMO_REASON = "Loaded from the demo pharmacy's details"


def ensure_demo_pharmacy() -> PharmacyIdentity:
    identity = PharmacyIdentity.objects.first()
    if identity is None:
        identity = PharmacyIdentity(**IDENTITY)
        identity._change_reason = DEMO_REASON
        identity.save()
    expires_on = timezone.localdate() + timedelta(days=365)
    for state, kind, number in LICENCES:
        licence, created = StateLicence.objects.get_or_create(
            state=state, kind=kind, defaults={"licence_number": number, "expires_on": expires_on}
        )
        if created:
            update_change_reason(licence, DEMO_REASON)
    for kind, (title, body) in POLICIES.items():
        policy, created = Policy.objects.get_or_create(
            kind=kind, defaults={"title": title, "body": body}
        )
        if created:
            update_change_reason(policy, DEMO_REASON)
    return identity
