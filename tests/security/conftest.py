"""The small world the security tests aim at: two patients, the staff roles, and
patient A's prescription, document, order and consultation."""

import pytest

from about.models import Policy, PolicyKind
from accounts.mfa import enrol_totp
from catalog.models import Package
from orders.cart import CartLine
from orders.models import DeliveryAddress, Shipment
from orders.services import order_place
from prescriptions import services as rx
from prescriptions.models import Consultation, PartnerRequest
from tests.factories import (
    clean_document,
    make_catalog_staff,
    make_e_prescription,
    make_partner,
    make_pharmacist,
    make_user,
    make_user_with_verified_email,
)
from tests.prescriptions.documents import prescription_pdf


@pytest.fixture
def people_and_objects(baclofen, settings):
    """(users by role, the URL arguments of each object by name)."""
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
    package = Package.objects.get(
        formulation__drug=baclofen, formulation__strength_label="10 mg", pill_count=10
    )
    address = DeliveryAddress.objects.create(
        user=patient_a, full_name="A", line1="1 St", city="Troy", state="NY", zip_code="12180"
    )
    order = order_place(patient=patient_a, lines=[CartLine(package, 1)], address=address)
    parcel = Shipment.objects.create(
        order=order, carrier="Local courier", tracking_number="LCWORLD0PARCEL"
    )
    Policy.objects.create(kind=PolicyKind.TERMS, title="Terms of use", body="The terms.")
    partner = make_partner(requests_url="http://127.0.0.1:9/requests")  # nothing listens
    consultation = Consultation.objects.create(
        patient=patient_a,
        drug=baclofen,
        formulation=package.formulation,
        partner=partner,
        partner_request=PartnerRequest.objects.create(
            partner=partner, kind=PartnerRequest.Kind.CONSULTATION, payload={}
        ),
        answers=[],
        status=Consultation.Status.SENT,
    )
    objects = {
        "drug": {"slug": baclofen.slug},
        "policy": {"kind": PolicyKind.TERMS.value},
        "prescription": {"pk": upload.pk},
        "document": {"pk": upload.pk, "document_pk": upload.documents.get().pk},
        "order": {"number": order.number},
        "verified_rx": {"prescription_id": verified.pk},
        "parcel": {"tracking_number": parcel.tracking_number},
        "order_line": {"number": order.number, "line_id": order.lines.get().pk},
        "request_id": {"request_id": "7f1c8d2e-0000-4000-8000-000000000001"},
        "package": package.pk,
        "consultation": {"pk": consultation.pk},
    }
    return users, objects
