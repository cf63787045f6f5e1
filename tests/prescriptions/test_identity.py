"""A prescription belongs to the person it was written for (issue 11).

The look-alike address test fails on today's code only on PostgreSQL, whose
UPPER of the dotless i (U+0131) is 'I'; run it there with DATABASE_URL=postgres://... as well.
"""

import re
from datetime import date

import pytest
from allauth.account.models import EmailAddress
from django.core import mail
from django.core.exceptions import ValidationError
from django.test import Client
from django.urls import reverse

from prescriptions import services
from prescriptions.models import Status
from prescriptions.services.identity import IDENTITY_MISMATCH_CODE
from tests.factories import (
    clean_document,
    make_e_prescription,
    make_pharmacist,
    make_profile,
    make_user,
    make_user_with_verified_email,
    sign_in_staff,
)
from tests.prescriptions.documents import prescription_pdf

ADA_BORN = date(1979, 3, 2)
CHILD_BORN = date(2015, 6, 1)


def with_profile(user, born):
    make_profile(user, date_of_birth=born)
    return user


def findings(prescription, code=IDENTITY_MISMATCH_CODE):
    prescription.refresh_from_db()
    return [r for r in prescription.check_results if r["code"] == code]


def ada_prescription(email="ada@example.com", **overrides):
    fields = {
        "patient_email": email,
        "patient_first_name": "Ada",
        "patient_last_name": "Lovelace",
        "patient_date_of_birth": ADA_BORN,
    }
    return make_e_prescription(**{**fields, **overrides})


# --- addresses are compared exactly, on their canonical form ---------------------------


def test_a_lookalike_address_never_takes_the_real_addresses_prescriptions(baclofen, settings):
    settings.ALLOW_TEST_EMAIL_DOMAINS = True
    # An account made before sign-up refused look-alike domains: a dotless i (U+0131).
    attacker = make_user_with_verified_email(
        email="dan@clınic.test", first_name="Dan", last_name="Brown"
    )
    first = make_e_prescription(
        patient_email="dan@clinic.test", patient_first_name="Dan", patient_last_name="Brown"
    )
    second = make_e_prescription(
        patient_email="DAN@CLINIC.TEST", patient_first_name="Dan", patient_last_name="Brown"
    )
    assert first.patient is None and second.patient is None
    address = EmailAddress.objects.get(user=attacker)
    assert services.attach_waiting_prescriptions(user=attacker, email=address.email) == 0
    assert not attacker.prescriptions.exists()
    assert first.patient_email == second.patient_email == "dan@clinic.test"


def test_the_real_address_in_another_case_or_unicode_domain_spelling_matches(baclofen, settings):
    settings.ALLOW_TEST_EMAIL_DOMAINS = True
    ada = make_user_with_verified_email(
        email="ada@bücher.test", first_name="Ada", last_name="Lovelace"
    )
    assert ada.email == "ada@xn--bcher-kva.test"
    prescription = ada_prescription(email="ADA@BÜCHER.test")
    assert prescription.patient == ada


# --- only the verified primary address of the patient's own account ---------------------


def test_a_verified_secondary_address_attaches_nothing(baclofen):
    attacker = make_user_with_verified_email(first_name="Ada", last_name="Lovelace")
    EmailAddress.objects.create(user=attacker, email="ada@example.com", verified=True)
    prescription = ada_prescription()
    assert prescription.patient is None
    assert findings(prescription) == []  # nobody has it as a primary address


def test_the_victim_confirming_an_address_an_attacker_added_hands_over_nothing(baclofen):
    waiting = ada_prescription()
    attacker = make_user_with_verified_email(first_name="Ada", last_name="Lovelace")
    attacker_client = Client()
    attacker_client.force_login(attacker)
    mail.outbox.clear()
    response = attacker_client.post(
        reverse("account_email"), {"email": "ada@example.com", "action_add": ""}
    )
    assert response.status_code == 302
    assert mail.outbox[0].to == ["ada@example.com"]
    # The victim clicks the link in the mail they did not expect.
    path = re.search(r"https?://testserver(/accounts/confirm-email/\S+/)", mail.outbox[0].body)
    victim = Client()
    assert victim.post(path.group(1)).status_code == 302
    assert EmailAddress.objects.get(user=attacker, email="ada@example.com").verified
    waiting.refresh_from_db()
    assert waiting.patient is None
    assert not attacker.prescriptions.exists()
    # A prescription sent afterwards does not go to the attacker either.
    assert ada_prescription().patient is None


def test_signing_up_and_confirming_claims_the_prescription_written_for_that_person(baclofen):
    waiting = ada_prescription(email="new@example.com")
    client = Client()
    client.post(
        "/accounts/signup/",
        {
            "first_name": "ADA ",
            "last_name": "lovelace",
            "email": "new@example.com",
            "password1": "a-long-test-password-1",
            "password2": "a-long-test-password-1",
        },
    )
    path = re.search(r"https?://testserver(/accounts/confirm-email/\S+/)", mail.outbox[-1].body)
    assert client.post(path.group(1)).status_code == 302
    waiting.refresh_from_db()
    assert waiting.patient is not None
    assert waiting.patient.email == "new@example.com"
    assert findings(waiting) == []


# --- name and date of birth must be the patient's -------------------------------------


def test_a_childs_prescription_does_not_join_an_adults_account_with_that_address(baclofen):
    adult = with_profile(
        make_user_with_verified_email(
            email="ada@example.com", first_name="Ada", last_name="Lovelace"
        ),
        ADA_BORN,
    )
    prescription = ada_prescription(patient_date_of_birth=CHILD_BORN)
    assert prescription.patient is None
    assert not adult.prescriptions.exists()
    (finding,) = findings(prescription)
    assert finding["level"] == "block"
    assert "date of birth: prescription 2015-06-01, account profile 1979-03-02" in finding["detail"]
    assert prescription.has_blocking_checks


def test_another_name_on_the_account_attaches_nothing_and_says_what_differs(baclofen):
    make_user_with_verified_email(email="ada@example.com", first_name="Ada", last_name="King")
    prescription = ada_prescription()
    assert prescription.patient is None
    (finding,) = findings(prescription)
    assert finding["level"] == "block"
    assert "name: prescription 'Ada Lovelace', account 'Ada King'" in finding["detail"]


def test_names_match_whatever_their_case_accents_and_spacing(baclofen):
    account = make_user_with_verified_email(
        email="jose@example.com", first_name="José  María", last_name="Núñez-Gil"
    )
    prescription = ada_prescription(
        email="jose@example.com",
        patient_first_name="jose maria",
        patient_last_name="NUNEZ GIL",
    )
    assert prescription.patient == account
    assert findings(prescription) == []


def test_confirming_an_address_keeps_a_mismatched_prescription_waiting(baclofen):
    waiting = ada_prescription(email="later@example.com", patient_date_of_birth=CHILD_BORN)
    user = with_profile(
        make_user(email="later@example.com", first_name="Ada", last_name="Lovelace"), ADA_BORN
    )
    EmailAddress.objects.create(user=user, email=user.email, verified=True, primary=True)
    assert services.attach_waiting_prescriptions(user=user, email=user.email) == 0
    waiting.refresh_from_db()
    assert waiting.patient is None
    assert findings(waiting)[0]["level"] == "block"


def test_an_attached_prescription_whose_patient_differs_from_the_profile_blocks(baclofen):
    ada = make_user_with_verified_email(
        email="ada@example.com", first_name="Ada", last_name="Lovelace"
    )
    prescription = ada_prescription()  # no profile yet: nothing to compare the date with
    assert prescription.patient == ada
    assert findings(prescription) == []
    services.profile_update(patient=ada, data={"date_of_birth": date(1950, 1, 1)})
    (finding,) = findings(prescription)
    assert finding["level"] == "block"
    assert "1950-01-01" in finding["detail"] and "1979-03-02" in finding["detail"]


def test_an_upload_whose_profile_date_of_birth_changed_blocks(baclofen):
    patient = with_profile(
        make_user_with_verified_email(first_name="Ada", last_name="Lovelace"), ADA_BORN
    )
    prescription = services.prescription_submit_upload(
        patient=patient, documents=[clean_document(prescription_pdf(["Rx baclofen"]))]
    )
    assert findings(prescription) == []
    services.profile_update(patient=patient, data={"date_of_birth": CHILD_BORN})
    assert findings(prescription)[0]["level"] == "block"


# --- a pharmacist resolves the mismatch --------------------------------------------------


@pytest.fixture
def mismatched(baclofen):
    """A child's prescription waiting beside the adult account its address names."""
    adult = with_profile(
        make_user_with_verified_email(
            email="ada@example.com", first_name="Ada", last_name="Lovelace"
        ),
        ADA_BORN,
    )
    return adult, ada_prescription(patient_date_of_birth=CHILD_BORN)


def test_a_waiting_mismatched_prescription_cannot_be_verified(mismatched, pharmacist):
    _, prescription = mismatched
    with pytest.raises(ValidationError, match="not attached to a patient's account"):
        services.prescription_verify(
            prescription_id=prescription.pk, pharmacist=pharmacist, override_reason="Looks fine."
        )
    prescription.refresh_from_db()
    assert prescription.status == Status.SUBMITTED


def test_accepting_the_identity_attaches_it_with_who_when_and_why(mismatched, pharmacist):
    adult, prescription = mismatched
    with pytest.raises(ValidationError, match="Write why"):
        services.prescription_accept_identity(
            prescription_id=prescription.pk, pharmacist=pharmacist, reason="  "
        )
    services.prescription_accept_identity(
        prescription_id=prescription.pk,
        pharmacist=pharmacist,
        reason="Prescriber confirmed by phone: the date of birth was mistyped.",
    )
    prescription.refresh_from_db()
    assert prescription.patient == adult
    change = prescription.status_changes.last()
    assert change.actor == pharmacist
    assert "mistyped" in change.override_reason and "2015-06-01" in change.override_reason
    assert change.message == ""  # the patient reads the message; this is for pharmacists
    (finding,) = findings(prescription)
    assert finding["level"] == "warn"
    with pytest.raises(ValidationError, match="Acknowledge the warnings"):
        services.prescription_verify(prescription_id=prescription.pk, pharmacist=pharmacist)
    services.prescription_verify(
        prescription_id=prescription.pk, pharmacist=pharmacist, warnings_acknowledged=True
    )


def test_an_accepted_identity_blocks_again_when_the_account_changes(mismatched, pharmacist):
    adult, prescription = mismatched
    services.prescription_accept_identity(
        prescription_id=prescription.pk, pharmacist=pharmacist, reason="Checked with the patient."
    )
    services.profile_update(patient=adult, data={"date_of_birth": date(1990, 1, 1)})
    assert findings(prescription)[0]["level"] == "block"


def test_accepting_needs_an_account_whose_primary_address_it_names(baclofen, pharmacist):
    prescription = ada_prescription(email="nobody-yet@example.com")
    with pytest.raises(ValidationError, match=r"No account has nobody-yet@example\.com"):
        services.prescription_accept_identity(
            prescription_id=prescription.pk, pharmacist=pharmacist, reason="Phoned the patient."
        )


def test_the_pharmacist_accepts_the_identity_from_the_decision_panel(mismatched, pharmacist):
    adult, prescription = mismatched
    client = sign_in_staff(Client(), pharmacist)
    page = client.get(reverse("admin:prescriptions_prescription_change", args=[prescription.pk]))
    assert "Accept the identity" in page.content.decode()
    url = reverse("admin:prescriptions_prescription_accept_identity", args=[prescription.pk])
    response = client.post(url, {"identity_reason": "Prescriber confirmed the date of birth."})
    assert response.status_code == 302
    prescription.refresh_from_db()
    assert prescription.patient == adult
    page = client.get(reverse("admin:prescriptions_prescription_change", args=[prescription.pk]))
    assert "Accept the identity" not in page.content.decode()


# --- nobody decides on their own prescription --------------------------------------------


@pytest.mark.parametrize(
    ("decide", "kwargs"),
    [
        (services.prescription_verify, {}),
        (services.prescription_reject, {"reason": "Not needed."}),
        (services.prescription_request_info, {"message": "Send the second page."}),
    ],
)
def test_a_pharmacist_cannot_decide_on_their_own_prescription(baclofen, decide, kwargs):
    pharmacist = make_pharmacist(first_name="Riley", last_name="Chen")
    prescription = make_e_prescription(patient=pharmacist)
    assert prescription.patient == pharmacist
    with pytest.raises(ValidationError, match="your own account"):
        decide(prescription_id=prescription.pk, pharmacist=pharmacist, **kwargs)
    prescription.refresh_from_db()
    assert prescription.status == Status.SUBMITTED
    decide(prescription_id=prescription.pk, pharmacist=make_pharmacist(), **kwargs)


def test_a_pharmacist_cannot_decide_on_one_waiting_for_their_address(baclofen):
    pharmacist = make_pharmacist(first_name="Riley", last_name="Chen")
    prescription = ada_prescription(email=pharmacist.email)  # another name: it waits
    assert prescription.patient is None
    with pytest.raises(ValidationError, match="your own account"):
        services.prescription_reject(
            prescription_id=prescription.pk, pharmacist=pharmacist, reason="No."
        )
    with pytest.raises(ValidationError, match="your own account"):
        services.prescription_accept_identity(
            prescription_id=prescription.pk, pharmacist=pharmacist, reason="It is me."
        )


def test_the_decision_panel_tells_a_pharmacist_it_is_their_own_prescription(baclofen):
    pharmacist = make_pharmacist(first_name="Riley", last_name="Chen")
    prescription = make_e_prescription(patient=pharmacist)
    client = sign_in_staff(Client(), pharmacist)
    url = reverse("admin:prescriptions_prescription_change", args=[prescription.pk])
    html = client.get(url).content.decode()
    assert "another pharmacist must decide on it" in html
    assert 'id="decision-form"' not in html
    response = client.post(
        reverse("admin:prescriptions_prescription_decide", args=[prescription.pk]),
        {"decision": "verify"},
        follow=True,
    )
    assert "another pharmacist must decide on it" in response.content.decode()
    prescription.refresh_from_db()
    assert prescription.status == Status.SUBMITTED


# --- addresses stored before this change are brought to the canonical form -------------


def test_the_data_migrations_bring_stored_addresses_to_the_canonical_form(baclofen):
    from importlib import import_module

    from django.apps import apps
    from django.contrib.auth import get_user_model

    user = make_user_with_verified_email(first_name="Ada", last_name="Lovelace")
    other = make_user_with_verified_email()
    get_user_model().objects.filter(pk=user.pk).update(email="ada@bücher.example.com")
    EmailAddress.objects.filter(user=user).update(email="ada@bücher.example.com")
    # Already taken in its canonical spelling by another verified row: left alone.
    EmailAddress.objects.filter(user=other).update(email="taken@xn--bcher-kva.example.com")
    EmailAddress.objects.create(user=user, email="taken@bücher.example.com", verified=True)
    waiting = ada_prescription(email="nobody@example.com")
    type(waiting).objects.filter(pk=waiting.pk).update(patient_email="ADA@Bücher.example.com")

    import_module("accounts.migrations.0002_canonical_email_addresses").forwards(apps, None)
    import_module("prescriptions.migrations.0010_canonical_patient_email").forwards(apps, None)

    user.refresh_from_db()
    assert user.email == "ada@xn--bcher-kva.example.com"
    assert set(EmailAddress.objects.filter(user=user).values_list("email", flat=True)) == {
        "ada@xn--bcher-kva.example.com",
        "taken@bücher.example.com",
    }
    waiting.refresh_from_db()
    assert waiting.patient_email == "ada@xn--bcher-kva.example.com"
    assert services.attach_waiting_prescriptions(user=user, email=user.email) == 1
