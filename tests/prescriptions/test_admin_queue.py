"""The pharmacist's verification queue in the admin."""

from datetime import timedelta
from decimal import Decimal

import pytest
from django.test import Client
from django.urls import reverse
from django.utils import timezone

from prescriptions import services
from prescriptions.models import AuditEvent, Prescription, Status
from tests.factories import (
    make_catalog_staff,
    make_e_prescription,
    make_user_with_verified_email,
    sign_in_staff,
)

QUEUE = "admin:prescriptions_prescription_changelist"


def decide(client, prescription, **data):
    return client.post(
        reverse("admin:prescriptions_prescription_decide", args=[prescription.pk]), data
    )


def test_queue_shows_open_prescriptions_first_and_oldest_first(
    pharmacist_client, patient, pharmacist, baclofen
):
    old = make_e_prescription(patient=patient)
    new = make_e_prescription(patient=patient)
    done = make_e_prescription(patient=patient)
    Prescription.objects.filter(pk=old.pk).update(submitted_at=timezone.now() - timedelta(days=2))
    Prescription.objects.filter(pk=done.pk).update(submitted_at=timezone.now() - timedelta(days=5))
    services.prescription_verify(prescription_id=done.pk, pharmacist=pharmacist)
    html = pharmacist_client.get(reverse(QUEUE)).content.decode()
    assert html.index(f"#{old.pk}<") < html.index(f"#{new.pk}<") < html.index(f"#{done.pk}<")
    assert "2\xa0days" in html  # time waiting


def test_queue_filters_and_search(pharmacist_client, patient, baclofen):
    blocked = make_e_prescription(
        patient=patient, strength="20 mg", units_per_dose=Decimal(4), doses_per_day=4
    )
    clean = make_e_prescription(patient=make_user_with_verified_email(email="zed@example.com"))
    html = pharmacist_client.get(
        reverse(QUEUE), {"has_blocking_checks__exact": "1"}
    ).content.decode()
    assert f"#{blocked.pk}<" in html and f"#{clean.pk}<" not in html
    html = pharmacist_client.get(reverse(QUEUE), {"q": "zed@"}).content.decode()
    assert f"#{clean.pk}<" in html and f"#{blocked.pk}<" not in html
    html = pharmacist_client.get(reverse(QUEUE), {"q": clean.prescriber_npi}).content.decode()
    assert f"#{clean.pk}<" in html
    html = pharmacist_client.get(reverse(QUEUE), {"status__exact": "verified"}).content.decode()
    assert f"#{clean.pk}<" not in html


def test_prescription_page_shows_profile_checks_and_documents(pharmacist_client, patient, baclofen):
    services.profile_update(
        patient=patient, data={"date_of_birth": timezone.localdate().replace(year=1950)}
    )
    prescription = make_e_prescription(patient=patient)
    html = pharmacist_client.get(
        reverse("admin:prescriptions_prescription_change", args=[prescription.pk])
    ).content.decode()
    assert "Age 65 or over" in html  # a clinical check, with its source
    assert "Special Populations" in html
    assert "Pat Jordan" in html
    assert "No document: this prescription arrived electronically." in html
    assert "Record decision" in html


def test_pharmacist_verifies_from_the_admin(pharmacist_client, pharmacist, patient, baclofen):
    prescription = make_e_prescription(patient=patient)
    response = decide(pharmacist_client, prescription, decision="verify")
    assert response.status_code == 302
    prescription.refresh_from_db()
    assert (prescription.status, prescription.decided_by) == (Status.VERIFIED, pharmacist)


def test_verifying_past_a_blocking_check_without_a_reason_is_refused(
    pharmacist_client, patient, baclofen
):
    prescription = make_e_prescription(
        patient=patient, strength="20 mg", units_per_dose=Decimal(4), doses_per_day=4
    )
    response = decide(
        pharmacist_client, prescription, decision="verify", warnings_acknowledged="on"
    )
    assert response.status_code == 302
    page = pharmacist_client.get(response["Location"]).content.decode()
    assert "need a written override reason" in page
    assert Prescription.objects.get(pk=prescription.pk).status == Status.SUBMITTED


def test_rejecting_needs_a_reason(pharmacist_client, patient, baclofen):
    prescription = make_e_prescription(patient=patient)
    decide(pharmacist_client, prescription, decision="reject", message="")
    assert Prescription.objects.get(pk=prescription.pk).status == Status.SUBMITTED
    decide(pharmacist_client, prescription, decision="reject", message="Forged signature.")
    prescription.refresh_from_db()
    assert (prescription.status, prescription.pharmacist_message) == (
        Status.REJECTED,
        "Forged signature.",
    )


def test_editing_details_in_the_admin_reruns_the_checks(
    pharmacist_client, pharmacist, patient, baclofen
):
    prescription = make_e_prescription(patient=patient)
    url = reverse("admin:prescriptions_prescription_change", args=[prescription.pk])
    data = {
        "prescriber_name": prescription.prescriber_name,
        "prescriber_npi": prescription.prescriber_npi,
        "prescriber_license": prescription.prescriber_license,
        "drug": prescription.drug_id,
        "formulation": prescription.formulation_id,
        "directions": "3 tablets four times a day",
        "units_per_dose": "3",
        "doses_per_day": "4",
        "quantity": "240",
        "refills": "0",
        "date_written": prescription.date_written.isoformat(),
        "expiry_date": prescription.expiry_date.isoformat(),
    }
    response = pharmacist_client.post(url, data)
    assert response.status_code == 302
    prescription.refresh_from_db()
    assert prescription.quantity == 240
    assert "max_daily_dose" in [r["code"] for r in prescription.check_results]  # 120 mg/day
    assert prescription.history.first().history_user == pharmacist


def test_catalog_staff_cannot_see_prescriptions(db, patient, baclofen):
    prescription = make_e_prescription(patient=patient)
    client = Client()
    sign_in_staff(client, make_catalog_staff())
    assert client.get(reverse(QUEUE)).status_code == 403
    change = reverse("admin:prescriptions_prescription_change", args=[prescription.pk])
    assert client.get(change).status_code == 403
    assert decide(client, prescription, decision="verify").status_code == 403


def test_opening_a_prescription_in_the_admin_is_audited(
    pharmacist_client, pharmacist, patient, baclofen
):
    prescription = make_e_prescription(patient=patient)
    pharmacist_client.get(
        reverse("admin:prescriptions_prescription_change", args=[prescription.pk])
    )
    event = AuditEvent.objects.get()
    assert (event.actor, event.patient, event.allowed) == (pharmacist, patient, True)
    assert event.action == AuditEvent.Action.VIEW_PRESCRIPTION


def test_audit_rows_are_read_only_for_everyone(pharmacist_client, pharmacist, patient, baclofen):
    prescription = make_e_prescription(patient=patient)
    pharmacist_client.get(
        reverse("admin:prescriptions_prescription_change", args=[prescription.pk])
    )
    event = AuditEvent.objects.get()
    assert (
        pharmacist_client.get(reverse("admin:prescriptions_auditevent_changelist")).status_code
        == 200
    )
    change = reverse("admin:prescriptions_auditevent_change", args=[event.pk])
    assert 'name="_save"' not in pharmacist_client.get(change).content.decode()
    assert pharmacist_client.post(change, {"allowed": "on"}).status_code == 403
    delete = reverse("admin:prescriptions_auditevent_delete", args=[event.pk])
    assert pharmacist_client.post(delete, {"post": "yes"}).status_code == 403
    with pytest.raises(Exception, match="append-only"):
        event.delete()
    with pytest.raises(Exception, match="append-only"):
        AuditEvent.objects.all().update(allowed=False)
    assert AuditEvent.objects.get().allowed
