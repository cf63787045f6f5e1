"""Patients keep their medical profile; pharmacists read it and its history."""

import json
from datetime import date, timedelta
from decimal import Decimal

import pytest
from django.test import Client
from django.urls import reverse
from django.utils import timezone

from catalog.models import MedicationClass
from prescriptions.models import MedicalProfile
from tests.factories import make_pharmacist, make_user_with_verified_email, sign_in_staff

PROFILE = "/account/profile/"
YES_NO_QUESTIONS = (
    "pregnant",
    "breastfeeding",
    "hepatic_impairment",
    "active_peptic_ulcer",
    "epilepsy",
    "psychiatric_disorder",
)


def profile_data(**overrides):
    data = {
        "date_of_birth": "1980-05-17",
        "weight_kg": "72.5",
        "kidney_disease": "none",
        "alcohol_use": "none",
        "other_medications": "",
        "allergies": "",
        **dict.fromkeys(YES_NO_QUESTIONS, "False"),
    }
    data.update(overrides)
    return {k: v for k, v in data.items() if v is not None}


def test_patient_fills_in_the_profile(patient_client, patient):
    opioids = MedicationClass.objects.get(slug="opioids")
    response = patient_client.post(
        PROFILE,
        profile_data(kidney_disease="chronic", medication_classes=[opioids.pk], epilepsy="True"),
    )
    assert response.status_code == 302
    profile = MedicalProfile.objects.get(user=patient)
    assert profile.date_of_birth == date(1980, 5, 17)
    assert profile.kidney_disease == "chronic"
    assert profile.epilepsy
    assert list(profile.medication_classes.all()) == [opioids]
    page = patient_client.get(PROFILE).content.decode()
    assert "Your medical profile was saved." in page
    assert 'value="1980-05-17"' in page


def test_profile_form_says_why_each_field_is_asked(patient_client):
    page = patient_client.get(PROFILE).content.decode()
    assert "dose is set by body weight" in page
    assert "leave the body through the kidneys" in page
    assert "Alcohol adds to the drowsiness" in page


@pytest.mark.parametrize(
    ("overrides", "message"),
    [
        (
            {"date_of_birth": (date.today() + timedelta(days=2)).isoformat()},
            "cannot be in the future",
        ),
        ({"date_of_birth": "1880-01-01"}, "more than 130 years ago"),
        ({"weight_kg": "0"}, "Weight must be more than zero."),
        ({"weight_kg": "501"}, "500 kg or less"),
        ({"medication_classes": ["999999"]}, "Select a valid choice"),
        ({"alcohol_use": "sometimes"}, "Select a valid choice"),
        ({"date_of_birth": "not a date"}, "Enter a valid date"),
        (
            {
                "date_of_birth": (date.today() - timedelta(days=365 * 8)).isoformat(),
                "weight_kg": None,
            },
            "Weight is needed for children under 12",
        ),
    ],
)
def test_bad_profile_values_get_a_clear_error_and_change_nothing(
    patient_client, patient, overrides, message
):
    patient_client.post(PROFILE, profile_data())
    before = MedicalProfile.objects.get(user=patient).history.count()
    response = patient_client.post(PROFILE, profile_data(kidney_disease="end_stage", **overrides))
    assert response.status_code == 400
    html = response.content.decode()
    assert message in html
    assert "Nothing was saved" in html
    profile = MedicalProfile.objects.get(user=patient)
    assert profile.kidney_disease == "none"
    assert profile.history.count() == before


def test_every_change_is_kept_with_who_and_old_and_new_value(patient_client, patient):
    patient_client.post(PROFILE, profile_data())
    patient_client.post(PROFILE, profile_data(kidney_disease="chronic", weight_kg="70"))
    export = json.loads(patient_client.get(reverse("prescriptions:profile_export")).getvalue())
    latest = export["history"][0]
    assert latest["who"] == patient.email
    assert {
        "field": "kidney disease",
        "old": "No kidney disease",
        "new": "Chronic kidney disease (CKD)",
    } in latest["changes"]
    assert {"field": "weight (kg)", "old": "72.5", "new": "70.0"} in latest["changes"]
    assert len(export["history"]) == 2


def test_patient_downloads_their_own_profile_as_json(patient_client, patient):
    patient_client.post(PROFILE, profile_data(allergies="Penicillin"))
    response = patient_client.get(reverse("prescriptions:profile_export"))
    assert response["Content-Type"] == "application/json"
    assert "attachment" in response["Content-Disposition"]
    data = json.loads(response.getvalue())
    assert data["patient"]["email"] == patient.email
    assert data["profile"]["other allergies and hypersensitivities"] == "Penicillin"


def test_a_patient_only_ever_sees_their_own_profile(patient_client, patient):
    other = make_user_with_verified_email(email="other@example.com")
    other_client = Client()
    other_client.force_login(other)
    other_client.post(PROFILE, profile_data(allergies="Peanuts, secret"))
    other_profile = MedicalProfile.objects.get(user=other)

    assert "Peanuts" not in patient_client.get(PROFILE).content.decode()
    assert (
        "Peanuts"
        not in patient_client.get(reverse("prescriptions:profile_export")).getvalue().decode()
    )
    assert patient_client.get(f"{PROFILE}{other_profile.pk}/").status_code == 404
    admin_url = reverse("admin:prescriptions_medicalprofile_change", args=[other_profile.pk])
    assert patient_client.get(admin_url).status_code == 302


def test_profile_post_without_csrf_token_is_refused(patient):
    client = Client(enforce_csrf_checks=True)
    client.force_login(patient)
    response = client.post(PROFILE, profile_data())
    assert response.status_code == 403
    assert not MedicalProfile.objects.filter(user=patient).exists()


def test_pharmacist_sees_the_profile_and_its_history_in_the_admin(patient_client, patient):
    patient_client.post(PROFILE, profile_data())
    patient_client.post(PROFILE, profile_data(alcohol_use="regular"))
    pharmacist = Client()
    sign_in_staff(pharmacist, make_pharmacist())
    profile = MedicalProfile.objects.get(user=patient)
    html = pharmacist.get(
        reverse("admin:prescriptions_medicalprofile_change", args=[profile.pk])
    ).content.decode()
    assert "Regularly (most days)" in html
    assert "I do not drink alcohol" in html  # the old value in the change log
    assert patient.email in html


def test_profile_page_query_count(patient_client, patient, django_assert_max_num_queries):
    patient_client.post(PROFILE, profile_data())
    with django_assert_max_num_queries(7):
        assert patient_client.get(PROFILE).status_code == 200


def test_age_is_computed_on_a_given_day():
    profile = MedicalProfile(date_of_birth=date(2010, 6, 15))
    assert profile.age_on(date(2022, 6, 14)) == 11
    assert profile.age_on(date(2022, 6, 15)) == 12
    assert MedicalProfile().age_on(timezone.localdate()) is None


def test_patient_records_egfr_clearance_and_hepatic_impairment(patient_client, patient):
    response = patient_client.post(
        PROFILE,
        profile_data(egfr="48.5", creatinine_clearance="52", hepatic_impairment="True"),
    )
    assert response.status_code == 302
    profile = MedicalProfile.objects.get(user=patient)
    assert (profile.egfr, profile.creatinine_clearance) == (Decimal("48.5"), Decimal(52))
    assert profile.hepatic_impairment
    page = patient_client.get(PROFILE).content.decode()
    assert "The liver breaks down many medicines" in page


def test_kidney_numbers_are_optional(patient_client, patient):
    assert patient_client.post(PROFILE, profile_data()).status_code == 302
    profile = MedicalProfile.objects.get(user=patient)
    assert profile.egfr is None and profile.creatinine_clearance is None
    assert not profile.hepatic_impairment


@pytest.mark.parametrize(
    ("overrides", "message"),
    [
        ({"egfr": "0"}, "eGFR must be at least 1"),
        ({"egfr": "201"}, "eGFR must be 200 or less"),
        ({"creatinine_clearance": "251"}, "Creatinine clearance must be 250 mL/min or less"),
        ({"creatinine_clearance": "abc"}, "Enter a number"),
    ],
)
def test_impossible_kidney_numbers_are_refused_naming_the_field(
    patient_client,
    patient,
    overrides,
    message,
):
    response = patient_client.post(PROFILE, profile_data(**overrides))
    assert response.status_code == 400
    assert message in response.content.decode()
    assert not MedicalProfile.objects.filter(user=patient).exists()
