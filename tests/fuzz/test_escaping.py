"""What a patient or a partner stores is shown escaped, to the patient and in the admin.

Each test stores markup with a random Unicode neighbourhood through the real form or
API, then reads it back on every page that shows it: the raw tag never appears, its
escaped form does.
"""

import json
import time

import pytest
from allauth.account.models import EmailAddress
from django.contrib.auth import get_user_model
from django.core.cache import cache
from django.core.files.uploadedfile import SimpleUploadedFile
from django.test import Client
from django.urls import reverse
from django.utils import timezone
from django.utils.html import escape
from hypothesis import given
from hypothesis import strategies as st

from orders.models import Order
from prescriptions.intake import sign
from prescriptions.models import MedicalProfile, Prescription, PrescriptionDocument
from tests.factories import make_partner, valid_npi
from tests.fuzz.conftest import TINY_PDF, signed_in
from tests.fuzz.hostile import (
    IMG,
    MARKUP,
    SCRIPT,
    assert_answer,
    fuzz,
    markup_text,
    printable_text,
    rolled_back,
)

pytestmark = [pytest.mark.django_db, pytest.mark.slow]

stored_text = markup_text.map(str.strip)


def assert_shown_escaped(response, *values: str) -> str:
    body = assert_answer(response)
    assert response.status_code == 200, response.status_code
    for value in values:
        assert escape(value) in body, value
    return body


def admin_url(name: str, *args) -> str:
    return reverse(f"admin:{name}", args=args)


@fuzz(8)
@given(other_medications=stored_text, allergies=stored_text)
def test_medical_profile_text_is_escaped_for_the_patient_and_the_pharmacist(
    patient, pharmacist, baclofen, other_medications, allergies
):
    with rolled_back():
        client = signed_in(patient)
        response = client.post(
            "/account/profile/",
            {
                "date_of_birth": "1980-05-17",
                "kidney_disease": "none",
                "alcohol_use": "none",
                # Every yes/no question needs an answer (unanswered is not "no").
                **dict.fromkeys(
                    (
                        "pregnant",
                        "breastfeeding",
                        "hepatic_impairment",
                        "active_peptic_ulcer",
                        "epilepsy",
                        "psychiatric_disorder",
                    ),
                    "False",
                ),
                "other_medications": other_medications,
                "allergies": allergies,
            },
        )
        assert response.status_code == 302
        client.post(
            "/account/prescriptions/new/",
            {"documents": [SimpleUploadedFile("rx.pdf", TINY_PDF, "application/pdf")]},
        )
        profile = MedicalProfile.objects.get(user=patient)
        prescription = Prescription.objects.get(patient=patient)
        assert (profile.other_medications, profile.allergies) == (other_medications, allergies)
        assert_shown_escaped(client.get("/account/profile/"), other_medications, allergies)
        staff = signed_in(pharmacist)
        for url in (
            admin_url("prescriptions_medicalprofile_change", profile.pk),
            admin_url("prescriptions_prescription_change", prescription.pk),
        ):
            assert_shown_escaped(staff.get(url), other_medications, allergies)
        assert_answer(staff.get(admin_url("prescriptions_medicalprofile_changelist")))


def _browser_file_name(name: str) -> str:
    return name.replace('"', "%22") + ".pdf"


@fuzz(8)
@given(
    note=stored_text,
    file_name=st.tuples(printable_text, st.sampled_from(MARKUP)).map("".join),
    question=stored_text,
    answer=stored_text,
)
def test_prescription_notes_file_names_and_questions_are_escaped(
    patient, pharmacist, baclofen, note, file_name, question, answer
):
    with rolled_back():
        client, staff = signed_in(patient), signed_in(pharmacist)
        response = client.post(
            "/account/prescriptions/new/",
            {
                "note": note,
                "documents": [
                    SimpleUploadedFile(_browser_file_name(file_name), TINY_PDF, "application/pdf")
                ],
            },
        )
        assert response.status_code == 302
        prescription = Prescription.objects.get(patient=patient)
        shown_name = PrescriptionDocument.objects.get(prescription=prescription).original_name
        decided = staff.post(
            admin_url("prescriptions_prescription_decide", prescription.pk),
            {"decision": "request_info", "message": question},
        )
        assert decided.status_code == 302
        page = prescription.get_absolute_url()
        assert_shown_escaped(client.get(page), note, shown_name, question)
        response = client.post(f"{page}respond/", {"note": answer})
        assert response.status_code == 302
        assert_shown_escaped(client.get(page), note, shown_name, question, answer)
        assert_answer(client.get("/account/prescriptions/"))
        change = admin_url("prescriptions_prescription_change", prescription.pk)
        assert_shown_escaped(staff.get(change), note, shown_name, question, answer)
        changelist = admin_url("prescriptions_prescription_changelist")
        assert_answer(staff.get(changelist))
        assert_answer(staff.get(changelist, {"q": SCRIPT}))


short_markup = st.sampled_from([m for m in MARKUP if len(m) <= 30])


@fuzz(8)
@given(
    full_name=stored_text,
    line1=stored_text,
    line2=stored_text,
    city=stored_text,
    phone=short_markup,
)
def test_delivery_address_is_escaped_on_orders_and_in_the_admin(
    patient, pharmacist, verified, package, no_stripe, full_name, line1, line2, city, phone
):
    with rolled_back():
        client = signed_in(patient)
        session = client.session
        session["cart"] = {str(package.pk): 1}
        session.save()
        response = client.post(
            "/checkout/",
            {
                "full_name": full_name,
                "line1": line1,
                "line2": line2,
                "city": city,
                "state": "NY",
                "zip_code": "12207",
                "phone": phone,
            },
        )
        assert response.status_code == 302, response.status_code
        order = Order.objects.get(patient=patient)
        assert_shown_escaped(client.get(order.get_absolute_url()), full_name, line1, line2, city)
        assert_shown_escaped(client.get("/orders/"))
        staff = signed_in(pharmacist)
        assert_shown_escaped(
            staff.get(admin_url("orders_order_change", order.pk)),
            full_name,
            line1,
            line2,
            city,
            phone,
        )
        assert_shown_escaped(staff.get(admin_url("orders_order_changelist")))


name_text = stored_text.filter(lambda s: 0 < len(s) <= 100)


@fuzz(8)
@given(first_name=name_text, last_name=name_text)
def test_names_given_at_sign_up_are_escaped_for_the_patient_and_the_pharmacist(
    pharmacist, baclofen, first_name, last_name
):
    email = "new-patient@example.com"
    with rolled_back():
        cache.clear()
        response = Client().post(
            "/accounts/signup/",
            {
                "first_name": first_name,
                "last_name": last_name,
                "email": email,
                "password1": "correct-horse-battery-staple-42",
                "password2": "correct-horse-battery-staple-42",
            },
        )
        assert response.status_code == 302
        user = get_user_model().objects.get(email=email)
        EmailAddress.objects.filter(user=user).update(verified=True)
        client = signed_in(user)
        assert_shown_escaped(client.get("/account/"), first_name, last_name)
        client.post(
            "/account/prescriptions/new/",
            {"documents": [SimpleUploadedFile("rx.pdf", TINY_PDF, "application/pdf")]},
        )
        prescription = Prescription.objects.get(patient=user)
        staff = signed_in(pharmacist)
        full_name = f"{first_name} {last_name}"
        assert_shown_escaped(
            staff.get(admin_url("prescriptions_prescription_change", prescription.pk)),
            full_name,
        )
        assert_shown_escaped(
            staff.get(admin_url("prescriptions_prescription_changelist")), full_name
        )


@fuzz(8)
@given(
    reference=stored_text,
    first_name=name_text,
    prescriber=name_text,
    license_=short_markup,
    directions=stored_text,
)
def test_telemedicine_text_is_escaped_for_the_patient_and_the_pharmacist(
    patient, pharmacist, baclofen, reference, first_name, prescriber, license_, directions
):
    body = {
        "prescription_id": reference,
        "patient": {
            "email": patient.email,
            "first_name": first_name,
            "last_name": IMG,
            "date_of_birth": "1980-05-17",
        },
        "prescriber": {"name": prescriber, "npi": valid_npi(), "state_license": license_},
        "medication": {"drug": "baclofen", "form": "tablet", "strength": "10 mg"},
        "directions": {"text": directions, "units_per_dose": 1, "doses_per_day": 3},
        "quantity": 90,
        "refills": 0,
        "date_written": str(timezone.localdate()),
    }
    with rolled_back():
        cache.clear()
        # A partner prescription joins only the account of the person it names.
        patient.first_name, patient.last_name = first_name, IMG
        patient.save(update_fields=["first_name", "last_name"])
        partner = make_partner()
        raw = json.dumps(body).encode()
        response = Client().post(
            "/api/telemedicine/prescriptions/",
            raw,
            content_type="application/json",
            HTTP_X_PARTNER=partner.slug,
            HTTP_TELEMEDICINE_SIGNATURE=sign(
                secret=partner.secret, body=raw, timestamp=int(time.time())
            ),
        )
        assert response.status_code == 201, response.content
        prescription = Prescription.objects.get(pk=response.json()["id"])
        assert prescription.patient == patient
        assert_shown_escaped(
            signed_in(patient).get(prescription.get_absolute_url()), prescriber, directions
        )
        staff = signed_in(pharmacist)
        assert_shown_escaped(
            staff.get(admin_url("prescriptions_prescription_change", prescription.pk)),
            reference,
            f"{first_name} {IMG}",
            prescriber,
            license_,
            directions,
        )
        assert_shown_escaped(
            staff.get(admin_url("prescriptions_prescription_changelist")),
            f"{first_name} {IMG}",
        )
