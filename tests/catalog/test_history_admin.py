"""Catalog staff see what changed, who changed it and why, and can restore a version."""

from decimal import Decimal

import pytest
from django.contrib.auth.models import Permission
from django.urls import reverse

from catalog.models import DosingGuideline, Interaction, MedicationClass, Package
from catalog.services import stock_adjust
from catalog.versions import SEED_REASON
from tests.factories import make_staff, sign_in_staff


@pytest.fixture
def package(baclofen):
    return Package.objects.get(
        formulation__drug=baclofen, formulation__strength_label="10 mg", pill_count=10
    )


def package_form(package, **changes):
    return {
        "formulation": package.formulation_id,
        "pill_count": package.pill_count,
        "price": package.price,
        "active": "on",
        **changes,
    }


def change_url(package):
    return reverse("admin:catalog_package_change", args=[package.pk])


def history_url(obj, model="catalog_package"):
    return reverse(f"admin:{model}_history", args=[obj.pk])


def restore_url(obj, version, model="catalog_package"):
    return reverse(f"admin:{model}_restore_version", args=[obj.pk, version.history_id])


def test_a_price_change_without_a_reason_is_refused_and_changes_nothing(staff_client, package):
    response = staff_client.post(change_url(package), package_form(package, price="40.00"))

    assert response.status_code == 200
    assert "Say why the price changes" in response.content.decode()
    package.refresh_from_db()
    assert package.price == Decimal("46.53")
    assert package.history.count() == 1


def test_other_changes_need_no_reason(staff_client, package):
    response = staff_client.post(change_url(package), package_form(package, active=""))
    assert response.status_code == 302
    latest = package.history.latest()
    assert latest.active is False
    assert latest.history_change_reason is None


def test_the_history_page_shows_each_change_with_before_after_author_and_reason(
    staff_client, catalog_staff, package
):
    form = package_form(package, price="40.00", change_reason="Supplier price rise")
    assert staff_client.post(change_url(package), form).status_code == 302

    html = staff_client.get(history_url(package)).content.decode()

    assert "<strong>Price:</strong>\n                    46.53" in html
    assert "&rarr;&nbsp;&nbsp;40.00" in html
    assert "Supplier price rise" in html
    assert catalog_staff.email in html
    assert SEED_REASON in html
    assert ">None<" not in html


def test_a_reason_typed_on_the_drug_form_is_kept_by_its_inline_rows(staff_client, baclofen):
    """The drug's page edits its dosing rows inline: their versions carry the reason."""
    url = reverse("admin:catalog_drug_change", args=[baclofen.pk])
    page = staff_client.get(url)
    form = page.context["adminform"].form
    data = {
        name: value
        for name, value in {**form.initial, "change_reason": "Label update"}.items()
        if value is not None and not isinstance(value, list | dict)
    }
    for formset in page.context["inline_admin_formsets"]:
        management = formset.formset.management_form
        data.update({management.add_prefix(k): v for k, v in management.initial.items()})
        for inline_form in formset.formset.forms:
            for name, field in inline_form.fields.items():
                value = inline_form.initial.get(name, field.initial)
                if isinstance(value, bool):
                    if value:
                        data[inline_form.add_prefix(name)] = "on"
                elif isinstance(value, list):
                    data[inline_form.add_prefix(name)] = [getattr(v, "pk", v) for v in value]
                elif value is not None:
                    data[inline_form.add_prefix(name)] = getattr(value, "pk", value)
    row = DosingGuideline.objects.filter(drug=baclofen).order_by("position").first()
    prefix = next(
        f.prefix
        for s in page.context["inline_admin_formsets"]
        for f in s.formset.forms
        if f.instance.pk == row.pk and isinstance(f.instance, DosingGuideline)
    )
    data[f"{prefix}-maximum"] = "Up to 80 mg a day (changed)"

    response = staff_client.post(url, data)

    assert response.status_code == 302, response.context["errors"]
    latest = DosingGuideline.objects.get(pk=row.pk).history.latest()
    assert latest.maximum == "Up to 80 mg a day (changed)"
    assert latest.history_change_reason == "Label update"


def test_restoring_a_version_writes_it_back_as_a_new_version_and_keeps_the_stock(
    staff_client, catalog_staff, package
):
    first = package.history.get()
    form = package_form(package, price="40.00", change_reason="Supplier price rise")
    staff_client.post(change_url(package), form)
    stock_adjust(package_id=package.pk, quantity=-7, reason="Damaged", actor=catalog_staff)

    response = staff_client.post(restore_url(package, first))

    assert response.status_code == 302
    assert response["Location"] == history_url(package)
    package.refresh_from_db()
    assert (package.price, package.stock) == (Decimal("46.53"), 93)
    restored = package.history.latest()
    assert restored.history_user == catalog_staff
    assert restored.history_change_reason.startswith("Restored version of ")
    assert restored.history_change_reason.endswith(f" by {catalog_staff}")
    assert package.history.count() == 3
    page = staff_client.get(response["Location"]).content.decode()
    assert "Restored version of" in page
    assert "Current version" in page


def test_the_history_page_offers_restore_only_to_those_who_may_change(staff_client, package):
    html = staff_client.get(history_url(package)).content.decode()
    assert "Current version" in html  # the only version is the current one

    staff_client.post(
        change_url(package), package_form(package, price="40.00", change_reason="Rise")
    )
    html = staff_client.get(history_url(package)).content.decode()
    assert "Restore this version" in html
    assert restore_url(package, package.history.earliest()) in html


def test_restoring_the_current_values_says_there_is_nothing_to_restore(staff_client, package):
    response = staff_client.post(restore_url(package, package.history.get()), follow=True)
    assert "nothing to restore" in response.content.decode()
    assert package.history.count() == 1


def test_restoring_an_interaction_brings_back_its_medication_classes(staff_client, baclofen):
    interaction = Interaction.objects.filter(drug=baclofen).first()
    before = set(interaction.medication_classes.values_list("pk", flat=True))
    first = interaction.history.get()
    interaction.medication_classes.set([MedicationClass.objects.create(name="X", slug="x")])

    staff_client.post(restore_url(interaction, first, "catalog_interaction"))

    assert set(interaction.medication_classes.values_list("pk", flat=True)) == before
    latest = interaction.history.latest()
    assert latest.history_change_reason.startswith("Restored version of ")
    assert {link.medicationclass_id for link in latest.medication_classes.all()} == before


def test_a_viewer_without_the_change_permission_sees_no_restore_and_cannot_restore(client, package):
    viewer = make_staff(group="Catalog staff", email="viewer@example.org")
    viewer.groups.clear()
    viewer.user_permissions.add(Permission.objects.get(codename="view_package"))
    sign_in_staff(client, viewer)
    package.price = Decimal("40.00")
    package.save()

    html = client.get(history_url(package)).content.decode()
    assert "Restore this version" not in html
    assert client.post(restore_url(package, package.history.earliest())).status_code == 403
    package.refresh_from_db()
    assert package.price == Decimal("40.00")


def test_the_history_names_choices_and_boxes_in_words(staff_client, baclofen):
    formulation = baclofen.formulations.get(strength_label="10 mg")
    formulation.packages.update(active=False)  # an unsellable form has no package on sale
    url = reverse("admin:catalog_formulation_change", args=[formulation.pk])
    context = staff_client.get(url).context
    form = context["adminform"].form
    data = {k: v for k, v in form.initial.items() if v is not None and k != "sellable"}
    data["drug"] = baclofen.pk
    for inline in context["inline_admin_formsets"]:  # the read-only pack sizes
        management = inline.formset.management_form
        data.update({management.add_prefix(k): v for k, v in management.initial.items()})
        for package_form in inline.formset.forms:
            data[package_form.add_prefix("id")] = package_form.instance.pk
            data[package_form.add_prefix("formulation")] = formulation.pk
    response = staff_client.post(url, data)
    assert response.status_code == 302, response.context["errors"]  # no longer sellable

    html = staff_client.get(history_url(formulation, "catalog_formulation")).content.decode()
    assert "<strong>Sellable:</strong>\n                    Yes" in html
    assert "&rarr;&nbsp;&nbsp;No" in html


def test_an_old_versions_page_asks_for_no_reason(staff_client, package):
    staff_client.post(
        change_url(package), package_form(package, price="40.00", change_reason="Rise")
    )
    version = package.history.earliest()
    url = reverse("admin:catalog_package_simple_history", args=[package.pk, version.pk])
    html = staff_client.get(url).content.decode()
    assert "46.53" in html
    assert "Reason for change" not in html
    assert "Reason for change" in staff_client.get(change_url(package)).content.decode()


def test_restoring_links_to_a_class_deleted_since_restores_the_others(staff_client, baclofen):
    interaction = next(
        i for i in Interaction.objects.filter(drug=baclofen) if i.medication_classes.count() > 1
    )
    first = interaction.history.get()
    gone, *kept = list(interaction.medication_classes.all())
    interaction.medication_classes.set([MedicationClass.objects.create(name="Y", slug="y")])
    gone.delete()

    response = staff_client.post(restore_url(interaction, first, "catalog_interaction"))

    assert response.status_code == 302
    assert set(interaction.medication_classes.all()) == set(kept)
    # No link to the deleted class (which would fail the commit on its foreign key).
    links = Interaction.medication_classes.through.objects.filter(interaction=interaction)
    assert links.count() == len(kept)
