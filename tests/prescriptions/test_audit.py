"""Every look at patient data in the admin is audited; refused looks cannot flood the trail."""

import pytest
from django.db.models import Sum
from django.test import Client
from django.urls import reverse
from django.utils import timezone

from prescriptions import audit
from prescriptions.audit import DENIED_TARGETS_PER_WINDOW
from prescriptions.models import AuditEvent, DeniedAttempt
from prescriptions.services import profile_update
from tests.factories import (
    make_catalog_staff,
    make_e_prescription,
    make_user_with_verified_email,
    sign_in_staff,
)

Action = AuditEvent.Action
PROFILES = "admin:prescriptions_medicalprofile_changelist"


@pytest.fixture
def intruder_client(db):
    """Catalog staff: signed in to the admin, but no business with patient data."""
    return sign_in_staff(Client(REMOTE_ADDR="203.0.113.66"), make_catalog_staff())


def make_profile(*, pregnant: bool = False, **names):
    patient = make_user_with_verified_email(**names)
    return profile_update(patient=patient, data={"pregnant": pregnant})


def test_the_profile_list_is_audited_once_with_its_filters_and_row_count(
    pharmacist_client, pharmacist
):
    make_profile(pregnant=True, first_name="Ann")
    make_profile(pregnant=True, first_name="Bea")
    make_profile(pregnant=False, first_name="Cat")

    response = pharmacist_client.get(reverse(PROFILES), {"pregnant__exact": "1"})

    assert response.status_code == 200
    event = AuditEvent.objects.get()
    assert (event.actor, event.action, event.allowed) == (pharmacist, Action.LIST_PROFILES, True)
    assert "pregnant__exact=1" in event.path
    assert event.rows_shown == 2
    assert event.patient is None
    assert event.ip_address == "198.51.100.7"


def test_a_profile_search_is_audited_with_what_was_searched(pharmacist_client):
    make_profile(first_name="Ann", last_name="Lovelace")
    pharmacist_client.get(reverse(PROFILES), {"q": "Lovelace"})
    event = AuditEvent.objects.get()
    assert "q=Lovelace" in event.path
    assert event.rows_shown == 1


def test_the_prescription_queue_is_audited_once_per_page(pharmacist_client, pharmacist, baclofen):
    for _ in range(3):
        make_e_prescription(patient=make_user_with_verified_email())
    url = reverse("admin:prescriptions_prescription_changelist")

    assert pharmacist_client.get(url, {"status__exact": "submitted"}).status_code == 200

    event = AuditEvent.objects.get()
    assert (event.actor, event.action, event.allowed) == (
        pharmacist,
        Action.LIST_PRESCRIPTIONS,
        True,
    )
    assert "status__exact=submitted" in event.path
    assert event.rows_shown == 3


@pytest.mark.parametrize("history_page", ["history", "version"])
def test_a_profiles_history_pages_are_audited(pharmacist_client, pharmacist, history_page):
    profile = make_profile()
    if history_page == "history":
        url = reverse("admin:prescriptions_medicalprofile_history", args=[profile.pk])
    else:
        version = profile.history.earliest().history_id
        url = reverse(
            "admin:prescriptions_medicalprofile_simple_history", args=[profile.pk, version]
        )

    assert pharmacist_client.get(url).status_code == 200

    event = AuditEvent.objects.get()
    assert (event.actor, event.patient, event.action, event.allowed) == (
        pharmacist,
        profile.user,
        Action.VIEW_PROFILE_HISTORY,
        True,
    )


@pytest.mark.parametrize("history_page", ["history", "version"])
def test_a_prescriptions_history_pages_are_audited(
    pharmacist_client, pharmacist, baclofen, history_page
):
    patient = make_user_with_verified_email()
    prescription = make_e_prescription(patient=patient)
    if history_page == "history":
        url = reverse("admin:prescriptions_prescription_history", args=[prescription.pk])
    else:
        version = prescription.history.earliest().history_id
        url = reverse(
            "admin:prescriptions_prescription_simple_history", args=[prescription.pk, version]
        )

    assert pharmacist_client.get(url).status_code == 200

    event = AuditEvent.objects.get()
    assert (event.actor, event.patient, event.action, event.allowed) == (
        pharmacist,
        patient,
        Action.VIEW_PRESCRIPTION_HISTORY,
        True,
    )


def test_an_attempt_to_write_an_old_version_back_is_audited_as_refused(
    pharmacist_client, pharmacist
):
    profile = make_profile()
    version = profile.history.earliest().history_id
    url = reverse("admin:prescriptions_medicalprofile_simple_history", args=[profile.pk, version])
    assert pharmacist_client.post(url, {}).status_code == 405
    event = AuditEvent.objects.get()
    assert (event.actor, event.patient, event.allowed) == (pharmacist, profile.user, False)


def test_refused_looks_at_the_list_and_at_history_are_audited(intruder_client, baclofen):
    profile = make_profile()
    prescription = make_e_prescription(patient=profile.user)
    urls = [
        reverse(PROFILES),
        reverse("admin:prescriptions_medicalprofile_history", args=[profile.pk]),
        reverse("admin:prescriptions_prescription_history", args=[prescription.pk]),
    ]
    for url in urls:
        assert intruder_client.get(url).status_code == 403
    refused = AuditEvent.objects.filter(allowed=False)
    assert sorted(refused.values_list("action", flat=True)) == sorted(
        [Action.LIST_PROFILES, Action.VIEW_PROFILE_HISTORY, Action.VIEW_PRESCRIPTION_HISTORY]
    )
    assert {e.ip_address for e in refused} == {"203.0.113.66"}


@pytest.fixture
def one_window(monkeypatch):
    """Every refusal in the hour the test started in: a run that crosses the hour opens
    a second window, with an event of its own, as it should."""
    started = audit._window_start(timezone.now())
    monkeypatch.setattr(audit, "_window_start", lambda now: started)


def test_a_thousand_refused_requests_are_one_event_and_one_counter(intruder_client, one_window):
    profile = make_profile()
    url = reverse("admin:prescriptions_medicalprofile_change", args=[profile.pk])

    for _ in range(1000):
        assert intruder_client.get(url).status_code == 403

    event = AuditEvent.objects.get()
    assert (event.allowed, event.patient, event.action) == (
        False,
        profile.user,
        Action.VIEW_PROFILE,
    )
    counter = DeniedAttempt.objects.get()
    assert counter.first_event == event
    assert counter.count == 1000
    assert counter.last_ip == "203.0.113.66"


def test_refusals_spread_over_many_records_stay_bounded_and_all_counted(
    intruder_client, one_window
):
    profiles = [make_profile() for _ in range(DENIED_TARGETS_PER_WINDOW + 10)]
    for profile in profiles:
        for _ in range(3):
            url = reverse("admin:prescriptions_medicalprofile_change", args=[profile.pk])
            assert intruder_client.get(url).status_code == 403

    assert DeniedAttempt.objects.count() == DENIED_TARGETS_PER_WINDOW + 1
    assert AuditEvent.objects.count() == DENIED_TARGETS_PER_WINDOW + 1
    assert DeniedAttempt.objects.aggregate(total=Sum("count"))["total"] == len(profiles) * 3
    assert DeniedAttempt.objects.get(target="*").count == 10 * 3


def test_allowed_looks_are_each_recorded(pharmacist_client):
    profile = make_profile()
    url = reverse("admin:prescriptions_medicalprofile_change", args=[profile.pk])
    for _ in range(3):
        pharmacist_client.get(url)
    assert AuditEvent.objects.filter(allowed=True).count() == 3
    assert not DeniedAttempt.objects.exists()


def test_a_denied_attempt_only_counts_up(intruder_client):
    profile = make_profile()
    intruder_client.get(reverse("admin:prescriptions_medicalprofile_change", args=[profile.pk]))
    counter = DeniedAttempt.objects.get()
    with pytest.raises(Exception, match="only counts up"):
        DeniedAttempt.objects.update(target="something else")
    with pytest.raises(Exception, match="only counts up"):
        counter.save()
    with pytest.raises(Exception, match="kept like the audit trail"):
        DeniedAttempt.objects.all().delete()
    with pytest.raises(Exception, match="kept like the audit trail"):
        counter.delete()


def test_pharmacists_read_the_refusal_counters_and_nobody_edits_them(
    pharmacist_client, intruder_client
):
    profile = make_profile()
    for _ in range(7):
        intruder_client.get(reverse("admin:prescriptions_medicalprofile_change", args=[profile.pk]))
    counter = DeniedAttempt.objects.get()
    listing = pharmacist_client.get(reverse("admin:prescriptions_deniedattempt_changelist"))
    assert listing.status_code == 200
    assert '<td class="field-count">7</td>' in listing.content.decode()
    trail = pharmacist_client.get(reverse("admin:prescriptions_auditevent_changelist"))
    assert '<td class="field-attempts">7</td>' in trail.content.decode()
    change = reverse("admin:prescriptions_deniedattempt_change", args=[counter.pk])
    assert pharmacist_client.post(change, {"count": 0}).status_code == 403
    assert (
        intruder_client.get(reverse("admin:prescriptions_deniedattempt_changelist")).status_code
        == 403
    )
