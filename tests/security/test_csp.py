"""A Content-Security-Policy on every page, and the site's own pages never break it."""

import os

import pytest
from django.test import Client

from prescriptions import services as rx
from tests.factories import (
    clean_document,
    make_catalog_staff,
    make_pharmacist,
    make_user_with_verified_email,
    sign_in,
    sign_in_staff,
)
from tests.prescriptions.documents import prescription_pdf

PUBLIC = ["/", "/medicines/baclofen/", "/accounts/login/", "/accounts/signup/", "/cart/", "/nope/"]
PATIENT = [
    "/account/",
    "/account/profile/",
    "/account/prescriptions/",
    "/account/prescriptions/new/",
    "/orders/",
]


def policy(response) -> dict[str, str]:
    header = response["Content-Security-Policy"]
    return {part.split()[0]: part for part in (p.strip() for p in header.split(";")) if part}


@pytest.mark.parametrize("path", PUBLIC)
def test_every_page_carries_a_policy_without_inline_code(client, baclofen, path):
    directives = policy(client.get(path))
    assert directives["script-src"] == "script-src 'self'"
    assert directives["style-src"] == "style-src 'self'"
    assert directives["object-src"] == "object-src 'none'"
    assert "unsafe" not in " ".join(directives.values())


def test_admin_and_account_pages_carry_it_too(db):
    client = Client()
    sign_in_staff(client, make_pharmacist())
    assert "script-src 'self'" in client.get("/admin/")["Content-Security-Policy"]
    assert "script-src 'self'" in client.get("/account/")["Content-Security-Policy"]


# The browser half: Chromium reports every violation on the pages each role opens.
LISTEN = (
    "window.__csp = [];"
    "document.addEventListener('securitypolicyviolation', e => window.__csp.push("
    "e.violatedDirective + ' ' + e.blockedURI + ' ' + e.sourceFile + ':' + e.lineNumber));"
)


def session_cookie(user) -> dict:
    client = sign_in(Client(), user)
    return client.cookies["sessionid"].value


@pytest.mark.e2e
@pytest.mark.slow
@pytest.mark.django_db(transaction=True, serialized_rollback=True)
@pytest.mark.skipif(not os.path.exists("/usr/bin/chromium"), reason="needs Debian's chromium")
def test_no_page_of_the_site_violates_its_policy_in_a_real_browser(live_server, baclofen, browser):
    patient = make_user_with_verified_email(email="csp-patient@example.com")
    pharmacist = make_pharmacist()
    prescription = rx.prescription_submit_upload(
        patient=patient, documents=[clean_document(prescription_pdf(["Rx baclofen"]))]
    )
    visits = {
        None: PUBLIC,
        patient: [*PATIENT, prescription.get_absolute_url()],
        pharmacist: [
            "/admin/",
            "/admin/prescriptions/prescription/",
            f"/admin/prescriptions/prescription/{prescription.pk}/change/",
            f"/admin/prescriptions/prescription/{prescription.pk}/history/",
            "/admin/prescriptions/auditevent/",
            "/admin/orders/order/",
        ],
        make_catalog_staff(): [
            f"/admin/catalog/drug/{baclofen.pk}/change/",
            "/admin/catalog/package/",
            "/admin/catalog/monographsection/",
        ],
    }
    violations = []
    for user, paths in visits.items():
        context = browser.new_context()
        context.add_init_script(LISTEN)
        if user is not None:
            context.add_cookies(
                [{"name": "sessionid", "value": session_cookie(user), "url": live_server.url}]
            )
        page = context.new_page()
        for path in paths:
            page.goto(live_server.url + path)
            page.wait_for_load_state("load")
            violations += [f"{path}: {v}" for v in page.evaluate("window.__csp")]
        context.close()
    assert not violations, "\n".join(violations)
