"""Every URL of the site x every role x its methods, with the status each must get.

A new URL that is not in these tables fails `test_every_url_is_in_the_table`, so
nothing becomes reachable without someone deciding who may reach it.
"""

from dataclasses import dataclass

import pytest
from django.test import Client
from django.urls import URLPattern, URLResolver, get_resolver, reverse

from accounts.mfa import enrol_totp
from catalog.models import Package
from orders.cart import CartLine
from orders.models import DeliveryAddress
from orders.services import order_place
from prescriptions import services as rx
from tests.factories import (
    clean_document,
    make_catalog_staff,
    make_e_prescription,
    make_pharmacist,
    make_user,
    make_user_with_verified_email,
)
from tests.prescriptions.documents import prescription_pdf

ROLES = ("anonymous", "patient_a", "patient_b", "pharmacist", "catalog_staff", "superuser")
LOGIN = 302  # sent to the sign-in page
GONE = 404  # as if it did not exist: another patient's, or not the viewer's business


@dataclass(frozen=True)
class Row:
    name: str
    method: str
    expected: tuple[int, ...]  # one status per role, in ROLES order
    args: str = ""  # which object of the world to put in the URL
    data: tuple = ()


def each(status: int) -> tuple[int, ...]:
    return (status,) * len(ROLES)


# name, method, (anonymous, patient A, patient B, pharmacist, catalog staff, superuser)
SITE = [
    Row("healthz", "GET", each(200)),
    Row("favicon", "GET", each(301)),
    Row("catalog:drug_list", "GET", each(200)),
    Row("catalog:drug_list", "POST", each(405)),
    Row("catalog:drug_detail", "GET", each(200), args="drug"),
    Row("catalog:drug_detail", "POST", each(405), args="drug"),
    Row("accounts:overview", "GET", (LOGIN, 200, 200, 200, 200, 200)),
    Row("prescriptions:profile", "GET", (LOGIN, 200, 200, 200, 200, 200)),
    Row("prescriptions:profile_export", "GET", (LOGIN, 200, 200, 200, 200, 200)),
    Row("prescriptions:profile_confirm", "GET", (LOGIN, 405, 405, 405, 405, 405)),
    Row("prescriptions:profile_confirm", "POST", (LOGIN, 302, 302, 302, 302, 302)),
    Row("prescriptions:list", "GET", (LOGIN, 200, 200, 200, 200, 200)),
    Row("prescriptions:new", "GET", (LOGIN, 200, 200, 200, 200, 200)),
    # Patient A's prescription: B and catalog staff see nothing; pharmacists are sent
    # to the admin page for it.
    Row("prescriptions:detail", "GET", (LOGIN, 200, GONE, 302, GONE, 302), args="prescription"),
    Row("prescriptions:respond", "GET", (LOGIN, 405, 405, 405, 405, 405), args="prescription"),
    Row("prescriptions:respond", "POST", (LOGIN, 400, GONE, GONE, GONE, GONE), args="prescription"),
    Row("prescriptions:document", "GET", (LOGIN, 200, GONE, 200, GONE, 200), args="document"),
    Row("orders:cart", "GET", each(200)),
    Row("orders:cart_add", "GET", each(405)),
    Row("orders:cart_add", "POST", each(302), data=(("package", "package"), ("quantity", 1))),
    Row("orders:cart_update", "POST", each(302), data=(("package", "package"), ("quantity", 0))),
    Row("orders:checkout", "GET", (LOGIN, 302, 302, 302, 302, 302)),  # empty cart: to the cart
    Row("orders:list", "GET", (LOGIN, 200, 200, 200, 200, 200)),
    Row("orders:detail", "GET", (LOGIN, 200, GONE, GONE, GONE, GONE), args="order"),
    Row("orders:pay", "GET", (LOGIN, 405, 405, 405, 405, 405), args="order"),
    Row("orders:pay", "POST", (LOGIN, 302, GONE, GONE, GONE, GONE), args="order"),
    Row("orders:cancel", "POST", (LOGIN, 302, GONE, GONE, GONE, GONE), args="order"),
    Row("prescriptions_api:telemedicine", "GET", each(405)),
    Row("prescriptions_api:telemedicine", "POST", each(401)),  # no partner, no signature
    Row("stripe-webhook", "GET", each(405)),
    Row("stripe-webhook", "POST", each(400)),  # no signature
]
# allauth's pages: sign-in and sign-up for visitors; the rest needs an account.
ACCOUNTS = [
    Row("account_login", "GET", (200, 302, 302, 302, 302, 302)),
    Row("account_signup", "GET", (200, 302, 302, 302, 302, 302)),
    Row("account_logout", "GET", (302, 200, 200, 200, 200, 200)),
    Row("account_reset_password", "GET", each(200)),
    Row("account_reset_password_done", "GET", each(200)),
    Row("account_reset_password_from_key_done", "GET", each(200)),
    Row("account_email_verification_sent", "GET", each(200)),
    Row("account_inactive", "GET", each(200)),
    Row("account_email", "GET", (LOGIN, 200, 200, 200, 200, 200)),
    Row("account_change_password", "GET", (LOGIN, 200, 200, 200, 200, 200)),
    Row("account_set_password", "GET", (LOGIN, 302, 302, 302, 302, 302)),  # has one already
    Row("account_reauthenticate", "GET", (LOGIN, 200, 200, 200, 200, 200)),
    Row("account_confirm_login_code", "GET", (302, 302, 302, 302, 302, 302)),
    Row("mfa_index", "GET", (LOGIN, 200, 200, 200, 200, 200)),
    Row("mfa_authenticate", "GET", (302, 302, 302, 302, 302, 302)),  # only mid sign-in
    Row("mfa_reauthenticate", "GET", (LOGIN, 302, 302, 200, 200, 200)),
    Row("mfa_activate_totp", "GET", (LOGIN, 302, 302, 302, 302, 302)),
    Row("mfa_deactivate_totp", "GET", (LOGIN, 404, 404, 302, 302, 302)),
    Row("mfa_view_recovery_codes", "GET", (LOGIN, 404, 404, 404, 404, 404)),
    Row("mfa_generate_recovery_codes", "GET", (LOGIN, 302, 302, 302, 302, 302)),
    Row("mfa_download_recovery_codes", "GET", (LOGIN, 404, 404, 404, 404, 404)),
]
# Names whose URL carries a one-time key from an email: checked by the sign-up tests.
KEYED = {"account_confirm_email", "account_reset_password_from_key"}

# The admin: each model's list, by role. Patients never get past the sign-in redirect.
NO, YES = 403, 200
ADMIN_MODELS = {
    # model: (pharmacist, catalog staff)
    "catalog.drug": (NO, YES),
    "catalog.monographsection": (NO, YES),
    "catalog.dosingguideline": (NO, YES),
    "catalog.interaction": (NO, YES),
    "catalog.medicationclass": (NO, YES),
    "catalog.formulation": (NO, YES),
    "catalog.package": (NO, YES),
    "accounts.user": (NO, NO),
    "auth.group": (NO, NO),
    "account.emailaddress": (NO, NO),
    "mfa.authenticator": (NO, NO),
    "prescriptions.medicalprofile": (YES, NO),
    "prescriptions.prescription": (YES, NO),
    "prescriptions.auditevent": (YES, NO),
    "prescriptions.telemedicinepartner": (NO, NO),
    "orders.order": (YES, NO),
    "orders.paymentevent": (YES, NO),
    "orders.deliveryaddress": (NO, NO),
    "orders.discrepancy": (YES, NO),
}


@pytest.fixture
def world(baclofen, settings):
    """Patient A's prescription, document, order; and one client per role."""
    settings.STRIPE_API_BASE = "http://127.0.0.1:9"  # nothing listens: payment cannot start
    settings.STRIPE_MAX_NETWORK_RETRIES = 0
    settings.TEST_ONLY_ALLOW_STRIPE_STANDIN = True
    patient_a = make_user_with_verified_email(email="a@example.com")
    patient_b = make_user_with_verified_email(email="b@example.com")
    pharmacist = make_pharmacist()
    superuser = make_user(email="root@example.com", is_staff=True, is_superuser=True)
    enrol_totp(superuser)
    users = {
        "patient_a": patient_a,
        "patient_b": patient_b,
        "pharmacist": pharmacist,
        "catalog_staff": make_catalog_staff(),
        "superuser": superuser,
    }
    upload = rx.prescription_submit_upload(
        patient=patient_a, documents=[clean_document(prescription_pdf(["Rx"]))]
    )
    rx.prescription_request_info(prescription_id=upload.pk, pharmacist=pharmacist, message="?")
    verified = make_e_prescription(patient=patient_a)
    rx.prescription_verify(prescription_id=verified.pk, pharmacist=pharmacist)
    package = Package.objects.get(formulation__drug=baclofen, formulation__strength_label="10 mg")
    address = DeliveryAddress.objects.create(
        user=patient_a, full_name="A", line1="1 St", city="Troy", state="NY", zip_code="12180"
    )
    order = order_place(patient=patient_a, lines=[CartLine(package, 1)], address=address)
    objects = {
        "drug": {"slug": baclofen.slug},
        "prescription": {"pk": upload.pk},
        "document": {"pk": upload.pk, "document_pk": upload.documents.get().pk},
        "order": {"number": order.number},
        "package": package.pk,
    }
    clients = {"anonymous": Client()}
    for role, user in users.items():
        clients[role] = Client()
        clients[role].force_login(user)
    return clients, objects


def request(client, row: Row, objects) -> int:
    url = reverse(row.name, kwargs=objects[row.args] if row.args else None)
    data = {key: objects.get(value, value) for key, value in row.data}
    return getattr(client, row.method.lower())(url, data).status_code


def test_every_role_gets_exactly_what_the_table_says(world):
    clients, objects = world
    wrong = []
    # Cancelling last: it ends the order that the other rows look at.
    rows = sorted(SITE + ACCOUNTS, key=lambda row: row.name == "orders:cancel")
    for row in rows:
        for role, expected in zip(ROLES, row.expected, strict=True):
            got = request(clients[role], row, objects)
            if got != expected:
                wrong.append(f"{row.method} {row.name} as {role}: {got}, expected {expected}")
    assert not wrong, "\n".join(wrong)


def test_admin_lists_by_role(world):
    clients, _ = world
    wrong = []
    for model, (pharmacist, staff) in ADMIN_MODELS.items():
        app_label, name = model.split(".")
        url = reverse(f"admin:{app_label}_{name}_changelist")
        expected = {
            "anonymous": 302,
            "patient_a": 302,
            "patient_b": 302,
            "pharmacist": pharmacist,
            "catalog_staff": staff,
            "superuser": 200,
        }
        for role, status in expected.items():
            got = clients[role].get(url).status_code
            if got != status:
                wrong.append(f"{url} as {role}: {got}, expected {status}")
    assert not wrong, "\n".join(wrong)


def test_every_url_is_in_the_table():
    from django.contrib import admin

    listed = {row.name for row in SITE + ACCOUNTS} | KEYED

    def names(patterns, namespace=""):
        for pattern in patterns:
            if isinstance(pattern, URLResolver):
                if pattern.namespace == "admin":
                    continue
                inner = f"{namespace}{pattern.namespace}:" if pattern.namespace else namespace
                yield from names(pattern.url_patterns, inner)
            elif isinstance(pattern, URLPattern) and pattern.name:
                yield f"{namespace}{pattern.name}"

    unlisted = set(names(get_resolver().url_patterns)) - listed
    assert not unlisted, f"URLs nobody decided about: {sorted(unlisted)}"
    registered = {f"{m._meta.app_label}.{m._meta.model_name}" for m in admin.site._registry}
    assert registered == set(ADMIN_MODELS), registered ^ set(ADMIN_MODELS)
