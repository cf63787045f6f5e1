"""The prescription state machine and its services: arrival, verification, units."""

from datetime import timedelta
from decimal import Decimal

import pytest
from django.core import mail
from django.core.exceptions import ValidationError
from django.utils import timezone

from catalog.models import Drug, Formulation, MedicationClass
from pharmacy import page_versions
from prescriptions import selectors, services
from prescriptions.models import Prescription, Status, StatusChange
from tests.factories import (
    NOTHING_TO_FLAG,
    clean_document,
    make_e_prescription,
    make_profile,
    make_user_with_verified_email,
)
from tests.prescriptions.documents import prescription_pdf


def statuses(prescription):
    return [(c.from_status, c.to_status) for c in prescription.status_changes.all()]


def test_e_prescription_joins_the_account_with_that_verified_email(patient, baclofen):
    prescription = make_e_prescription(patient=patient)
    assert prescription.patient == patient
    assert prescription.status == Status.SUBMITTED
    assert prescription.expiry_date == prescription.date_written + timedelta(days=365)
    assert statuses(prescription) == [("", "submitted")]
    assert prescription.check_results == []
    assert not prescription.has_blocking_checks


def test_e_prescription_for_an_unknown_email_waits_for_the_patient(baclofen, db):
    prescription = make_e_prescription(patient_email="later@example.com")
    assert prescription.patient is None
    user = make_user_with_verified_email(
        email="later@example.com", first_name="Pat", last_name="Jordan"
    )
    assert services.attach_waiting_prescriptions(user=user, email="LATER@example.com") == 1
    prescription.refresh_from_db()
    assert prescription.patient == user


def test_the_patient_is_emailed_only_after_the_decision_commits(
    patient, pharmacist, baclofen, django_capture_on_commit_callbacks, settings
):
    settings.PRESCRIPTION_DECISION_TASKS = []  # the email alone (orders' task: tests/orders)
    prescription = make_e_prescription(patient=patient)
    mail.outbox.clear()
    with django_capture_on_commit_callbacks(execute=False) as callbacks:
        services.prescription_reject(
            prescription_id=prescription.pk, pharmacist=pharmacist, reason="Signature missing."
        )
    assert mail.outbox == []  # nothing sent while the transaction was open
    # The email, beside the move of the patient's pages token (pharmacy/page_versions.py).
    emails = [c for c in callbacks if c.__module__ != page_versions.__name__]
    assert len(emails) == 1
    emails[0]()
    assert len(mail.outbox) == 1
    assert "Signature missing." in mail.outbox[0].body
    assert mail.outbox[0].to == [patient.email]
    callbacks[0]()  # the task delivered twice sends one email
    assert len(mail.outbox) == 1


def test_verify_records_who_and_when(patient, pharmacist, baclofen):
    prescription = make_e_prescription(patient=patient)
    services.prescription_verify(prescription_id=prescription.pk, pharmacist=pharmacist)
    prescription.refresh_from_db()
    assert prescription.status == Status.VERIFIED
    assert prescription.decided_by == pharmacist
    assert prescription.decided_at is not None
    change = prescription.status_changes.last()
    assert (change.from_status, change.to_status, change.actor) == (
        "submitted",
        "verified",
        pharmacist,
    )


@pytest.mark.parametrize(
    ("first", "second"),
    [
        ("verify", "reject"),
        ("verify", "request_info"),
        ("verify", "verify"),
        ("reject", "verify"),
        ("reject", "request_info"),
        ("request_info", "verify"),
        ("request_info", "reject"),
    ],
)
def test_moves_outside_the_state_machine_are_refused(patient, pharmacist, baclofen, first, second):
    prescription = make_e_prescription(patient=patient)
    actions = {
        "verify": lambda: services.prescription_verify(
            prescription_id=prescription.pk, pharmacist=pharmacist
        ),
        "reject": lambda: services.prescription_reject(
            prescription_id=prescription.pk, pharmacist=pharmacist, reason="No."
        ),
        "request_info": lambda: services.prescription_request_info(
            prescription_id=prescription.pk, pharmacist=pharmacist, message="Which dose?"
        ),
    }
    actions[first]()
    before = Prescription.objects.get(pk=prescription.pk).status
    with pytest.raises(ValidationError, match="cannot become"):
        actions[second]()
    assert Prescription.objects.get(pk=prescription.pk).status == before
    assert prescription.status_changes.count() == 2


def test_needs_info_goes_back_to_the_queue_when_the_patient_answers(patient, pharmacist, baclofen):
    prescription = make_e_prescription(patient=patient)
    services.prescription_request_info(
        prescription_id=prescription.pk, pharmacist=pharmacist, message="Which dose?"
    )
    services.prescription_respond(prescription_id=prescription.pk, patient=patient, note="20 mg.")
    prescription.refresh_from_db()
    assert prescription.status == Status.SUBMITTED
    assert "20 mg." in prescription.patient_note
    assert statuses(prescription) == [
        ("", "submitted"),
        ("submitted", "needs_info"),
        ("needs_info", "submitted"),
    ]


def test_a_patient_cannot_answer_when_nothing_was_asked(patient, baclofen):
    prescription = make_e_prescription(patient=patient)
    with pytest.raises(ValidationError, match="cannot become"):
        services.prescription_respond(prescription_id=prescription.pk, patient=patient, note="Hi")


def test_reject_and_request_info_need_a_message(patient, pharmacist, baclofen):
    prescription = make_e_prescription(patient=patient)
    with pytest.raises(ValidationError, match="reason"):
        services.prescription_reject(
            prescription_id=prescription.pk, pharmacist=pharmacist, reason=" "
        )
    with pytest.raises(ValidationError, match="Write what"):
        services.prescription_request_info(
            prescription_id=prescription.pk, pharmacist=pharmacist, message=""
        )
    assert Prescription.objects.get(pk=prescription.pk).status == Status.SUBMITTED


def test_a_blocking_check_needs_a_written_override(patient, pharmacist, baclofen):
    # 2 x 20 mg four times a day = 160 mg/day, over the adult maximum of 80.
    prescription = make_e_prescription(
        patient=patient, strength="20 mg", units_per_dose=Decimal(2), doses_per_day=4
    )
    assert prescription.has_blocking_checks
    with pytest.raises(ValidationError, match="override reason"):
        services.prescription_verify(
            prescription_id=prescription.pk, pharmacist=pharmacist, warnings_acknowledged=True
        )
    services.prescription_verify(
        prescription_id=prescription.pk,
        pharmacist=pharmacist,
        override_reason="Confirmed with the neurologist by phone.",
        warnings_acknowledged=True,
    )
    prescription.refresh_from_db()
    assert prescription.status == Status.VERIFIED
    assert (
        prescription.status_changes.last().override_reason
        == "Confirmed with the neurologist by phone."
    )


def test_warnings_need_acknowledgement(patient, pharmacist, baclofen):
    services.profile_update(
        patient=patient,
        data={
            **NOTHING_TO_FLAG,
            "date_of_birth": timezone.localdate().replace(year=1980),
            "medication_classes": list(MedicationClass.objects.filter(slug="nsaids")),
        },
    )
    prescription = make_e_prescription(patient=patient)
    assert [r["level"] for r in prescription.check_results] == ["warn"]
    with pytest.raises(ValidationError, match="Acknowledge"):
        services.prescription_verify(prescription_id=prescription.pk, pharmacist=pharmacist)
    services.prescription_verify(
        prescription_id=prescription.pk, pharmacist=pharmacist, warnings_acknowledged=True
    )


def test_a_profile_change_reruns_the_checks_of_open_prescriptions(patient, baclofen):
    prescription = make_e_prescription(patient=patient)
    assert not prescription.has_blocking_checks
    services.profile_update(
        patient=patient,
        data={
            "date_of_birth": timezone.localdate().replace(year=1980),
            "hypersensitive_to": [baclofen],
        },
    )
    prescription.refresh_from_db()
    assert prescription.has_blocking_checks
    assert "hypersensitivity" in [r["code"] for r in prescription.check_results]


def test_pharmacist_edits_rerun_the_checks_and_set_the_default_expiry(
    patient, pharmacist, baclofen
):
    prescription = make_e_prescription(patient=patient)
    written = timezone.localdate() - timedelta(days=10)
    services.prescription_update_details(
        prescription_id=prescription.pk,
        actor=pharmacist,
        details={"doses_per_day": 12, "date_written": written, "expiry_date": None},
    )
    prescription.refresh_from_db()
    assert prescription.expiry_date == written + timedelta(days=365)
    assert "max_daily_dose" in [r["code"] for r in prescription.check_results]
    assert prescription.history.first().history_user == pharmacist


def test_decided_prescriptions_cannot_be_edited(patient, pharmacist, baclofen):
    prescription = make_e_prescription(patient=patient)
    services.prescription_verify(prescription_id=prescription.pk, pharmacist=pharmacist)
    with pytest.raises(ValidationError, match="can no longer be edited"):
        services.prescription_update_details(
            prescription_id=prescription.pk, actor=pharmacist, details={"quantity": 900}
        )


def test_an_uploaded_prescription_waits_for_its_details(patient, baclofen):
    make_profile(patient)
    prescription = services.prescription_submit_upload(
        patient=patient, documents=[clean_document(prescription_pdf(["Rx baclofen"]))], note="Hi"
    )
    assert prescription.documents.count() == 1
    assert prescription.has_blocking_checks
    assert [r["code"] for r in prescription.check_results] == ["details_missing"]


def test_the_same_document_from_another_account_is_flagged(patient, baclofen):
    pdf = prescription_pdf(["Rx baclofen 10 mg"])
    services.prescription_submit_upload(patient=patient, documents=[clean_document(pdf)])
    other = make_user_with_verified_email(email="copycat@example.com")
    second = services.prescription_submit_upload(patient=other, documents=[clean_document(pdf)])
    assert "document_reused" in [r["code"] for r in second.check_results]


def test_units_are_reserved_up_to_the_authorised_total_and_given_back(
    patient, pharmacist, baclofen
):
    prescription = make_e_prescription(patient=patient, quantity=30, refills=1)  # 60 units
    services.prescription_verify(prescription_id=prescription.pk, pharmacist=pharmacist)
    formulation = prescription.formulation
    assert selectors.units_available(patient=patient, formulation=formulation) == 60
    assert services.prescription_reserve_units(prescription_id=prescription.pk, units=50)
    assert not services.prescription_reserve_units(prescription_id=prescription.pk, units=11)
    assert selectors.units_available(patient=patient, formulation=formulation) == 10
    services.prescription_release_units(prescription_id=prescription.pk, units=50)
    assert selectors.units_available(patient=patient, formulation=formulation) == 60


def test_expired_or_unverified_prescriptions_authorise_nothing(patient, pharmacist, baclofen):
    prescription = make_e_prescription(patient=patient)
    formulation = prescription.formulation
    assert selectors.units_available(patient=patient, formulation=formulation) == 0
    services.prescription_verify(prescription_id=prescription.pk, pharmacist=pharmacist)
    later = prescription.expiry_date + timedelta(days=1)
    assert selectors.units_available(patient=patient, formulation=formulation, on=later) == 0
    other_strength = Formulation.objects.get(drug=baclofen, strength_label="20 mg")
    assert selectors.units_available(patient=patient, formulation=other_strength) == 0
    assert not services.prescription_reserve_units(
        prescription_id=prescription.pk, units=0 + 91 * 2
    )


def test_the_database_refuses_more_units_used_than_authorised(patient, baclofen):
    from django.db import IntegrityError, transaction

    prescription = make_e_prescription(patient=patient, quantity=10, refills=0)
    with pytest.raises(IntegrityError), transaction.atomic():
        Prescription.objects.filter(pk=prescription.pk).update(units_used=11)


def test_status_changes_are_kept_for_every_move(patient, pharmacist, baclofen):
    prescription = make_e_prescription(patient=patient)
    services.prescription_request_info(
        prescription_id=prescription.pk, pharmacist=pharmacist, message="?"
    )
    assert StatusChange.objects.filter(prescription=prescription).count() == 2
    assert Drug.objects.filter(slug="baclofen").exists()


@pytest.mark.parametrize(
    ("units_per_dose", "doses_per_day", "expected"),
    [
        # 1 x 20 mg five times a day: over the daily maximum only.
        (Decimal(1), 5, "1 blocking check needs a written override reason: "),
        # 2 x 20 mg four times a day: over the daily and the single-dose maximum.
        (Decimal(2), 4, "2 blocking checks need a written override reason: "),
    ],
)
def test_the_override_refusal_counts_its_blocking_checks_in_plain_english(
    patient, pharmacist, baclofen, units_per_dose, doses_per_day, expected
):
    prescription = make_e_prescription(
        patient=patient,
        strength="20 mg",
        units_per_dose=units_per_dose,
        doses_per_day=doses_per_day,
        directions=f"Take {units_per_dose} tablet {doses_per_day} times a day",
    )
    with pytest.raises(ValidationError) as refused:
        services.prescription_verify(
            prescription_id=prescription.pk, pharmacist=pharmacist, warnings_acknowledged=True
        )
    assert refused.value.messages[0].startswith(expected)
