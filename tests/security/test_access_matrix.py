"""Every URL of the site x every role x its methods, with the status each must get.

A new URL that is not in these tables fails `test_every_url_is_in_the_table`, so
nothing becomes reachable without someone deciding who may reach it.
"""

from dataclasses import dataclass

import pytest
from django.test import Client
from django.urls import URLPattern, URLResolver, get_resolver, reverse

from accounts.roles import PHARMACIST
from tests.factories import make_user_with_verified_email, sign_in

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
    Row("about:contact", "GET", each(200)),
    Row("about:contact", "POST", each(405)),
    Row("about:policy", "GET", each(200), args="policy"),
    Row("about:policy", "POST", each(405), args="policy"),
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
    # Renewals are the patient's own: staff may read the prescription, not ask for them.
    Row("prescriptions:renewal", "GET", (LOGIN, 302, GONE, GONE, GONE, GONE), args="prescription"),
    Row("prescriptions:renewal", "POST", (LOGIN, 302, GONE, GONE, GONE, GONE), args="prescription"),
    # Anyone signed in may ask; patient A has one open for the drug, and is sent to it.
    Row("prescriptions:consultation_new", "GET", (LOGIN, 302, 200, 200, 200, 200), args="drug"),
    Row("prescriptions:consultation_new", "POST", (LOGIN, 302, 400, 400, 400, 400), args="drug"),
    Row(
        "prescriptions:consultation",
        "GET",
        (LOGIN, 200, GONE, GONE, GONE, GONE),
        args="consultation",
    ),
    Row(
        "prescriptions:consultation", "POST", (LOGIN, 405, 405, 405, 405, 405), args="consultation"
    ),
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
    # Auto-refill is the patient's own; A has none yet, so only its page answers (an
    # empty form: 400).
    Row("orders:auto_refill", "GET", (LOGIN, 200, GONE, GONE, GONE, GONE), args="verified_rx"),
    Row("orders:auto_refill", "POST", (LOGIN, 400, GONE, GONE, GONE, GONE), args="verified_rx"),
    Row("orders:auto_refill_card", "GET", (LOGIN, 405, 405, 405, 405, 405), args="verified_rx"),
    Row(
        "orders:auto_refill_card", "POST", (LOGIN, GONE, GONE, GONE, GONE, GONE), args="verified_rx"
    ),
    Row(
        "orders:auto_refill_skip", "POST", (LOGIN, GONE, GONE, GONE, GONE, GONE), args="verified_rx"
    ),
    Row(
        "orders:auto_refill_stop", "POST", (LOGIN, GONE, GONE, GONE, GONE, GONE), args="verified_rx"
    ),
    # Ordering again: the confirm page (GET, the email's link) and the cart filling (POST)
    # are the order's own patient's; A's order is unpaid, so A is told why not (200, 302).
    Row("orders:reorder", "GET", (LOGIN, 200, GONE, GONE, GONE, GONE), args="order"),
    Row("orders:reorder", "POST", (LOGIN, 302, GONE, GONE, GONE, GONE), args="order"),
    Row("orders:reorder", "PUT", (LOGIN, 405, 405, 405, 405, 405), args="order"),
    # The courier's tracking page: anyone with the (unguessable) number, as at a carrier.
    Row("orders:track", "GET", each(200), args="parcel"),
    Row("orders:track", "POST", each(405), args="parcel"),
    # The leaflet of a medicine in the order: its patient only (staff print it in the admin).
    Row("dispensing:leaflet", "GET", (LOGIN, 200, GONE, GONE, GONE, GONE), args="order_line"),
    Row("dispensing:leaflet", "POST", (LOGIN, 405, 405, 405, 405, 405), args="order_line"),
    # Counselling and messages with the pharmacists: the order's patient (an empty message
    # is refused on the page); pharmacists answer in the admin.
    Row("dispensing:conversation", "GET", (LOGIN, 200, GONE, GONE, GONE, GONE), args="order"),
    Row("dispensing:conversation", "POST", (LOGIN, 200, GONE, GONE, GONE, GONE), args="order"),
    Row("prescriptions_api:telemedicine", "GET", each(405)),
    Row("prescriptions_api:telemedicine", "POST", each(401)),  # no partner, no signature
    Row("prescriptions_api:telemedicine_fhir", "GET", each(405)),
    Row("prescriptions_api:telemedicine_fhir", "POST", each(401)),
    Row("prescriptions_api:telemedicine_decline", "GET", each(405), args="request_id"),
    Row("prescriptions_api:telemedicine_decline", "POST", each(401), args="request_id"),
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
    "catalog.drugcondition": (NO, YES),
    "catalog.renalthreshold": (NO, YES),
    "catalog.medicationclass": (NO, YES),
    "catalog.formulation": (NO, YES),
    "catalog.package": (NO, YES),
    "catalog.stockadjustment": (NO, YES),
    "accounts.user": (NO, NO),
    "auth.group": (NO, NO),
    "account.emailaddress": (NO, NO),
    "mfa.authenticator": (NO, NO),
    "prescriptions.medicalprofile": (YES, NO),
    "prescriptions.prescription": (YES, NO),
    "prescriptions.auditevent": (YES, NO),
    "prescriptions.deniedattempt": (YES, NO),
    "prescriptions.telemedicinepartner": (NO, NO),
    "prescriptions.partnerexchange": (YES, NO),
    "prescriptions.partnerrequest": (YES, NO),
    "prescriptions.renewalrequest": (YES, NO),
    "prescriptions.consultationquestion": (YES, NO),
    "prescriptions.consultation": (YES, NO),
    "orders.order": (YES, NO),
    "orders.paymentevent": (YES, NO),
    "orders.deliveryaddress": (NO, NO),
    "orders.discrepancy": (YES, NO),
    "orders.autorefill": (YES, NO),
    # What delivery costs: catalog staff, who keep the prices (orders/migrations/0009).
    "orders.shippingoption": (NO, YES),
    # Lots, the "to check" queue and the records of the final check: pharmacists.
    "dispensing.lot": (YES, NO),
    "dispensing.ordertocheck": (YES, NO),
    "dispensing.finalcheck": (YES, NO),
    "dispensing.dispenserecord": (YES, NO),
    "dispensing.recall": (YES, NO),
    "dispensing.orderconversation": (YES, NO),
    "dispensing.counsellingoffer": (YES, NO),
    "dispensing.dispensereturn": (YES, NO),
    "dispensing.dispatchhold": (YES, NO),
    # The pharmacy's details, licences and notices: catalog staff keep them.
    "about.pharmacyidentity": (NO, YES),
    "about.statelicence": (NO, YES),
    "about.policy": (NO, YES),
}


@pytest.fixture
def world(people_and_objects):
    """One client per role, each signed in as the site requires of that role."""
    users, objects = people_and_objects
    clients = {"anonymous": Client()}
    for role, user in users.items():
        clients[role] = sign_in(Client(), user)
    return clients, objects


def url_of(row: Row, objects) -> str:
    return reverse(row.name, kwargs=objects[row.args] if row.args else None)


def send(client, row: Row, objects):
    data = {key: objects.get(value, value) for key, value in row.data}
    return getattr(client, row.method.lower())(url_of(row, objects), data)


def test_every_role_gets_exactly_what_the_table_says(world):
    clients, objects = world
    wrong = []
    # Cancelling last: it ends the order that the other rows look at.
    rows = sorted(SITE + ACCOUNTS, key=lambda row: row.name == "orders:cancel")
    for row in rows:
        for role, expected in zip(ROLES, row.expected, strict=True):
            got = send(clients[role], row, objects).status_code
            if got != expected:
                wrong.append(f"{row.method} {row.name} as {role}: {got}, expected {expected}")
    assert not wrong, "\n".join(wrong)


def test_a_staff_group_without_the_staff_flag_gets_what_any_patient_gets(world):
    """Staff sessions need the second factor (accounts/middleware.py); a user put in
    the Pharmacist group without the staff flag is not staff, so this pins that no
    URL treats them as one, even signed in with the password alone."""
    _, objects = world
    group_only = Client()
    group_only.force_login(make_user_with_verified_email(groups=[PHARMACIST]))
    wrong = []
    for row in sorted(SITE + ACCOUNTS, key=lambda row: row.name == "orders:cancel"):
        expected = row.expected[ROLES.index("patient_b")]
        got = send(group_only, row, objects).status_code
        if got != expected:
            wrong.append(f"{row.method} {row.name}: {got}, expected {expected}")
    for model in [*ADMIN_MODELS, "admin:index"]:
        url = reverse("admin:index") if model == "admin:index" else admin_list(model)
        if (got := group_only.get(url).status_code) != 302:
            wrong.append(f"GET {url}: {got}, expected 302")
    assert not wrong, "\n".join(wrong)


def admin_list(model: str) -> str:
    app_label, name = model.split(".")
    return reverse(f"admin:{app_label}_{name}_changelist")


def test_admin_lists_by_role(world):
    clients, _ = world
    wrong = []
    for model, (pharmacist, staff) in ADMIN_MODELS.items():
        url = admin_list(model)
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


# Admin actions beyond the model pages, by role (anonymous, patients, pharmacist,
# catalog staff, superuser): restoring an old version of a catalog row is POST only,
# for those who may change the row; it answers with the history page.
RESTORE = ("admin:catalog_package_restore_version", "admin:about_policy_restore_version")


def test_restoring_a_version_by_role(world):
    from decimal import Decimal

    from about.models import Policy
    from catalog.models import Package

    clients, objects = world
    package = Package.objects.get(pk=objects["package"])
    policy = Policy.objects.get(kind=objects["policy"]["kind"])
    rows = {
        RESTORE[0]: (package, {"price": Decimal("99.00")}),
        RESTORE[1]: (policy, {"body": "Changed terms."}),
    }
    expected = {
        "GET": (LOGIN, LOGIN, LOGIN, 405, 405, 405),
        "POST": (LOGIN, LOGIN, LOGIN, 403, 302, 302),
    }
    wrong = []
    for name, (obj, change) in rows.items():
        for field, value in change.items():
            setattr(obj, field, value)
        obj.save()
        url = reverse(name, args=[obj.pk, obj.history.earliest().pk])
        for method, statuses in expected.items():
            for role, status in zip(ROLES, statuses, strict=True):
                got = getattr(clients[role], method.lower())(url).status_code
                if got != status:
                    wrong.append(f"{method} {name} as {role}: {got}, expected {status}")
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
