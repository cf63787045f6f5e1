"""Each dispensing page a pharmacist opens is in the audit trail under its own action,
so an inspector reading the trail can tell a final check from a label print."""

import pytest
from django.urls import reverse

from prescriptions.models import AuditEvent
from tests.dispensing.factories import check_as_planned, receive_lot

pytestmark = pytest.mark.django_db

Action = AuditEvent.Action


def actions_of(pharmacist) -> list[str]:
    return list(AuditEvent.objects.filter(actor=pharmacist).values_list("action", flat=True))


@pytest.fixture
def line(to_check, package, pharmacy):
    receive_lot(package=package, lot_number="AU1")
    return to_check.lines.get()


def test_opening_the_final_check_is_audited_as_viewing_the_final_check(
    line, pharmacist, pharmacist_client
):
    url = reverse("admin:dispensing_ordertocheck_change", args=[line.order.pk])
    assert pharmacist_client.get(url).status_code == 200
    assert actions_of(pharmacist) == [Action.VIEW_FINAL_CHECK]
    event = AuditEvent.objects.get(actor=pharmacist)
    assert (event.patient, event.get_action_display()) == (
        line.order.patient,
        "Viewed the final check",
    )


def test_printing_a_label_is_audited_as_a_label_print(line, pharmacist, pharmacist_client):
    response = pharmacist_client.get(reverse("admin:dispensing_label", args=[line.pk]))
    assert response["Content-Type"] == "application/pdf"
    assert actions_of(pharmacist) == [Action.PRINT_LABEL]
    assert AuditEvent.objects.get(actor=pharmacist).patient == line.order.patient


def test_printing_a_leaflet_is_audited_with_the_patient_it_was_printed_for(
    line, pharmacist, pharmacist_client
):
    response = pharmacist_client.get(reverse("admin:dispensing_leaflet", args=[line.pk]))
    assert response["Content-Type"] == "application/pdf"
    assert actions_of(pharmacist) == [Action.PRINT_LEAFLET]
    assert AuditEvent.objects.get(actor=pharmacist).patient == line.order.patient


def test_reading_a_conversation_is_audited_as_reading_a_conversation(
    line, pharmacist, pharmacist_client, capture
):
    check_as_planned(line.order, capture=capture)
    url = reverse("admin:dispensing_orderconversation_change", args=[line.order.pk])
    assert pharmacist_client.get(url).status_code == 200
    assert actions_of(pharmacist) == [Action.READ_CONVERSATION]
    assert AuditEvent.objects.get(actor=pharmacist).patient == line.order.patient


def test_the_patients_own_conversation_page_writes_no_audit_row(line, capture, client):
    check_as_planned(line.order, capture=capture)
    client.force_login(line.order.patient)
    page = client.get(reverse("dispensing:conversation", args=[line.order.number]))
    assert page.status_code == 200
    assert not AuditEvent.objects.exists()
