"""Staff edit each drug's clinical rules in the admin, with history; the next check follows."""

from decimal import Decimal

from django.urls import reverse

from catalog.models import DrugCondition, Interaction, MedicationClass, ProfileFact, Severity
from prescriptions.checks import Level
from tests.factories import sign_in_staff
from tests.prescriptions.test_checks import check, make_patient, make_prescription, only


def change_form_data(response) -> dict:
    """What the admin change page would post back unchanged: its form and inlines."""
    data = {}

    def add(form):
        for name in form.fields:
            value = form[name].value()
            key = form.add_prefix(name)
            if isinstance(value, bool):
                if value:
                    data[key] = "on"
            elif isinstance(value, (list, tuple)):
                data[key] = [str(v) for v in value]
            elif value is not None:
                data[key] = str(value)

    add(response.context["adminform"].form)
    for inline in response.context["inline_admin_formsets"]:
        formset = inline.formset
        for name, value in formset.management_form.initial.items():
            data[formset.management_form.add_prefix(name)] = value
        for form in formset.forms:
            add(form)
    return data


def drug_change(client, drug):
    url = reverse("admin:catalog_drug_change", args=[drug.pk])
    return url, client.get(url)


def tizanidine_dose():
    return make_prescription(strength_mg=Decimal(2), doses_per_day=3)


def test_staff_regrade_an_interaction_and_the_next_check_blocks(client, catalog_staff, tizanidine):
    patient = make_patient(other_medications="oxycodone 10 mg")
    result = only(check(tizanidine, patient, tizanidine_dose()), "interaction_cns_depressants")
    assert result.level == Level.WARN

    sign_in_staff(client, catalog_staff)
    url, page = drug_change(client, tizanidine)
    assert page.status_code == 200
    data = change_form_data(page)
    cns = Interaction.objects.get(drug=tizanidine, name="CNS depressants")
    [key] = [
        k
        for k, v in data.items()
        if k.startswith("interactions-") and k.endswith("-id") and v == str(cns.pk)
    ]
    data[key.replace("-id", "-severity")] = Severity.CONTRAINDICATED
    response = client.post(url, data)
    assert response.status_code == 302, response.context["errors"] if response.context else ""

    result = only(check(tizanidine, patient, tizanidine_dose()), "interaction_cns_depressants")
    assert result.level == Level.BLOCK
    latest = cns.history.first()
    assert (latest.severity, latest.history_user) == (Severity.CONTRAINDICATED, catalog_staff)
    assert latest.prev_record.severity == Severity.MODERATE


def test_staff_add_a_condition_inline_and_it_becomes_a_finding(client, catalog_staff, tizanidine):
    patient = make_patient(epilepsy=True)
    assert check(tizanidine, patient, tizanidine_dose()) == []
    sign_in_staff(client, catalog_staff)
    url, page = drug_change(client, tizanidine)
    data = change_form_data(page)
    total = int(data["conditions-TOTAL_FORMS"])
    data["conditions-TOTAL_FORMS"] = total + 1
    data.update(
        {
            f"conditions-{total}-position": "20",
            f"conditions-{total}-fact": ProfileFact.EPILEPSY,
            f"conditions-{total}-severity": Severity.MONITOR,
            f"conditions-{total}-message": "Lowers the seizure threshold: monitor.",
            f"conditions-{total}-source": "Warnings: “Use with care in epilepsy.”",
        }
    )
    assert client.post(url, data).status_code == 302
    result = only(check(tizanidine, patient, tizanidine_dose()), "epilepsy")
    assert result.level == Level.WARN
    assert result.source == "Warnings: “Use with care in epilepsy.”"
    row = DrugCondition.objects.get(drug=tizanidine, fact=ProfileFact.EPILEPSY)
    assert row.history.first().history_user == catalog_staff


def test_staff_edit_renal_threshold_concentration_and_stop_flag_inline(
    client, catalog_staff, baclofen
):
    sign_in_staff(client, catalog_staff)
    url, page = drug_change(client, baclofen)
    html = page.content.decode()
    for label in ("Concentration (mg per mL)", "Must not stop suddenly", "Maximum per dose (mg)"):
        assert label in html
    data = change_form_data(page)
    data.pop("must_not_stop_suddenly", None)
    data["renal_thresholds-TOTAL_FORMS"] = 1
    data.update(
        {
            "renal_thresholds-0-measure": "egfr",
            "renal_thresholds-0-below": "30",
            "renal_thresholds-0-action": "Avoid",
            "renal_thresholds-0-severity": Severity.MAJOR,
            "renal_thresholds-0-source": "Special Populations: “Avoid below 30.”",
        }
    )
    assert client.post(url, data).status_code == 302
    baclofen.refresh_from_db()
    assert not baclofen.must_not_stop_suddenly
    result = only(check(baclofen, make_patient(egfr=Decimal(29))), "renal_function")
    assert result.level == Level.BLOCK
    assert check(baclofen, make_patient(egfr=Decimal(30))) == []


def test_stop_flag_without_its_sentence_is_refused_naming_the_field(
    client, catalog_staff, baclofen
):
    sign_in_staff(client, catalog_staff)
    url, page = drug_change(client, baclofen)
    data = change_form_data(page)
    data["stop_suddenly_warning"] = ""
    response = client.post(url, data)
    assert response.status_code == 200
    assert "Give the sentence patients are shown." in response.content.decode()
    baclofen.refresh_from_db()
    assert baclofen.stop_suddenly_warning


def test_staff_edit_a_class_substances_and_free_text_follows(client, catalog_staff, baclofen):
    opioids = MedicationClass.objects.get(slug="opioids")
    sign_in_staff(client, catalog_staff)
    url = reverse("admin:catalog_medicationclass_change", args=[opioids.pk])
    response = client.post(
        url, {"name": opioids.name, "slug": opioids.slug, "substances": "kratom, oxycodone"}
    )
    assert response.status_code == 302
    patient = make_patient(other_medications="Kratom powder")
    assert only(check(baclofen, patient), "interaction_cns_depressants").level == Level.BLOCK
    assert check(baclofen, make_patient(other_medications="morphine")) == []
