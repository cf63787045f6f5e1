"""Prescription emails warn against stopping suddenly only for a drug flagged so."""

from prescriptions.emails import status_change_email
from prescriptions.models import StatusChange
from tests.factories import make_e_prescription, make_user_with_verified_email


def received_email(drug):
    patient = make_user_with_verified_email(email="stop@example.com")
    prescription = make_e_prescription(patient=patient)
    change = StatusChange.objects.filter(prescription=prescription).first()
    assert prescription.drug == drug
    return status_change_email(change).body


def test_a_flagged_drug_email_quotes_its_own_stop_sentence(baclofen):
    body = received_email(baclofen)
    assert f"Important: {baclofen.stop_suddenly_warning}" in body
    assert "Talk to your doctor before you stop or change the dose" in body


def test_a_drug_not_flagged_gets_no_stop_suddenly_line(baclofen):
    baclofen.must_not_stop_suddenly = False
    baclofen.save()
    body = received_email(baclofen)
    assert "suddenly" not in body
    assert "Talk to your doctor before you stop or change the dose" in body
