"""A pharmacist who types the details and presses "Record decision" before "Save" keeps
what they typed: the details are saved first and the decision is judged on them."""

from django.urls import reverse

from prescriptions.models import Prescription, Status
from tests.factories import make_e_prescription


def change_url(prescription) -> str:
    return reverse("admin:prescriptions_prescription_change", args=[prescription.pk])


def details(prescription, **typed) -> dict:
    data = {
        "prescriber_name": prescription.prescriber_name,
        "prescriber_npi": prescription.prescriber_npi,
        "prescriber_license": prescription.prescriber_license,
        "drug": prescription.drug_id,
        "formulation": prescription.formulation_id,
        "directions": prescription.directions,
        "units_per_dose": str(prescription.units_per_dose),
        "doses_per_day": str(prescription.doses_per_day),
        "quantity": str(prescription.quantity),
        "refills": str(prescription.refills),
        "date_written": prescription.date_written.isoformat(),
        "expiry_date": prescription.expiry_date.isoformat(),
    }
    data.update(typed)
    return data


def test_the_decision_page_has_the_decision_inside_the_details_form(
    pharmacist_client, patient, baclofen
):
    prescription = make_e_prescription(patient=patient)
    html = pharmacist_client.get(change_url(prescription)).content.decode()
    assert 'name="_decide"' in html
    assert 'form="decision-form"' not in html


def test_record_decision_saves_the_typed_details_then_verifies(
    pharmacist_client, pharmacist, patient, baclofen
):
    prescription = make_e_prescription(patient=patient)
    data = details(prescription, prescriber_license="MD-778812", quantity="60")

    response = pharmacist_client.post(
        change_url(prescription),
        {**data, "_decide": "1", "decision": "verify", "warnings_acknowledged": "on"},
    )

    assert response.status_code == 302
    assert response.url == reverse("admin:prescriptions_prescription_changelist")
    prescription.refresh_from_db()
    assert (prescription.prescriber_license, prescription.quantity) == ("MD-778812", 60)
    assert (prescription.status, prescription.decided_by) == (Status.VERIFIED, pharmacist)


def test_the_decision_is_judged_on_the_details_just_typed(pharmacist_client, patient, baclofen):
    """Typed details that make a blocking finding are saved; the verification is refused."""
    prescription = make_e_prescription(patient=patient)
    data = details(prescription, units_per_dose="3", doses_per_day="4", quantity="240")
    data["directions"] = "3 tablets four times a day"

    response = pharmacist_client.post(
        change_url(prescription), {**data, "_decide": "1", "decision": "verify"}, follow=True
    )

    prescription.refresh_from_db()
    assert prescription.quantity == 240  # saved, not lost
    assert "max_daily_dose" in [r["code"] for r in prescription.check_results]
    assert prescription.status == Status.SUBMITTED
    html = response.content.decode()
    assert "need a written override reason" in html
    assert response.redirect_chain[-1][0] == change_url(prescription)


def test_invalid_details_show_their_errors_keep_what_was_typed_and_decide_nothing(
    pharmacist_client, patient, baclofen
):
    prescription = make_e_prescription(patient=patient)
    before = Prescription.objects.filter(pk=prescription.pk).values().get()
    data = details(prescription, prescriber_license="MD-778812", quantity="lots")

    response = pharmacist_client.post(
        change_url(prescription),
        {
            **data,
            "_decide": "1",
            "decision": "reject",
            "message": "The signature does not match the prescriber's.",
        },
    )

    assert response.status_code == 200
    html = response.content.decode()
    assert "Enter a whole number." in html
    assert 'value="MD-778812"' in html  # the typed value, not the stored one
    assert 'value="reject" checked' in html
    assert "The signature does not match the prescriber&#x27;s." in html
    assert Prescription.objects.filter(pk=prescription.pk).values().get() == before
    assert prescription.status_changes.count() == 1  # only the arrival


def test_save_alone_records_no_decision(pharmacist_client, patient, baclofen):
    prescription = make_e_prescription(patient=patient)
    data = details(prescription, quantity="60")

    response = pharmacist_client.post(change_url(prescription), {**data, "decision": "verify"})

    assert response.status_code == 302
    prescription.refresh_from_db()
    assert (prescription.quantity, prescription.status) == (60, Status.SUBMITTED)
