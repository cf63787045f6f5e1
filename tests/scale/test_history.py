"""A profile's history costs the same queries with 5 edits as with 40: the patient's
export and profile page, the admin's profile page and a prescription's page (which shows
the latest five edits)."""

import json

import pytest
from django.urls import reverse

from prescriptions.models import MedicalProfile
from tests.factories import make_e_prescription
from tests.scale.rows import LARGE, SMALL, edit_profile, queries


@pytest.fixture
def prescription(patient):
    return make_e_prescription(patient=patient)


def _pages(prescription):
    profile = MedicalProfile.objects.get(user=prescription.patient)
    return {
        "export": reverse("prescriptions:profile_export"),
        "profile": reverse("prescriptions:profile"),
        "admin profile": reverse("admin:prescriptions_medicalprofile_change", args=[profile.pk]),
        "admin prescription": reverse(
            "admin:prescriptions_prescription_change", args=[prescription.pk]
        ),
    }


def _measure(patient_client, pharmacist_client, pages) -> dict[str, int]:
    return {
        name: queries(patient_client if name in ("export", "profile") else pharmacist_client, url)
        for name, url in pages.items()
    }


@pytest.mark.django_db
def test_history_pages_cost_the_same_queries_at_both_sizes(
    patient, prescription, patient_client, pharmacist_client
):
    pages = _pages(prescription)
    edit_profile(patient, SMALL)
    small = _measure(patient_client, pharmacist_client, pages)
    edit_profile(patient, LARGE - SMALL)
    large = _measure(patient_client, pharmacist_client, pages)
    assert small == large


@pytest.mark.django_db
def test_the_export_streams_every_edit_newest_first(patient, prescription, patient_client):
    edit_profile(patient, 3)
    response = patient_client.get(reverse("prescriptions:profile_export"))

    assert response.streaming
    export = json.loads(response.getvalue())
    weights = [
        change["new"]
        for entry in export["history"]
        for change in entry["changes"]
        if change["field"] == "weight (kg)"
    ]
    assert weights[:3] == ["62.0", "61.0", "60.0"]
    assert export["profile"]["weight (kg)"] == "62.0"


@pytest.mark.django_db
def test_the_prescription_page_shows_the_latest_five_edits(
    patient, prescription, pharmacist_client
):
    edit_profile(patient, 8)
    html = pharmacist_client.get(
        reverse("admin:prescriptions_prescription_change", args=[prescription.pk])
    ).content.decode()
    # Weights 60..67 were written; the five latest (63..67) are shown, older ones not.
    assert "67.0" in html and "63.0" in html
    assert "61.0" not in html
