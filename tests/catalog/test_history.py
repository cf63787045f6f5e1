"""The catalog's history: the loaded values are the first version of every row."""

from django.apps import apps

from catalog.models import Drug, Interaction, MonographSection, Package
from catalog.versions import SEED_REASON, record_first_versions


def test_the_seeded_prices_and_text_are_the_first_version(baclofen):
    for row in [baclofen, *Package.objects.all(), *MonographSection.objects.all()]:
        versions = list(row.history.all())
        assert len(versions) == 1, row
        (first,) = versions
        assert first.history_type == "+"
        assert first.history_change_reason == SEED_REASON
    package = Package.objects.first()
    assert package.history.get().price == package.price


def test_an_interactions_first_version_holds_its_medication_classes(baclofen):
    interaction = Interaction.objects.filter(drug=baclofen).first()
    first = interaction.history.get()
    classes = {link.medicationclass_id for link in first.medication_classes.all()}
    assert classes
    assert classes == set(interaction.medication_classes.values_list("pk", flat=True))


def test_recording_first_versions_again_writes_nothing(baclofen):
    assert record_first_versions(apps=apps) == 0
    assert baclofen.history.count() == 1


def test_a_drug_loaded_by_the_command_starts_with_one_version_per_row(tizanidine):
    drug = Drug.objects.get(pk=tizanidine.pk)
    assert list(drug.history.values_list("history_change_reason", flat=True)) == [SEED_REASON]
    for interaction in drug.interactions.all():
        assert interaction.history.count() == 1
        assert interaction.history.get().medication_classes.exists()
    for package in Package.objects.filter(formulation__drug=drug):
        assert package.history.get().history_change_reason == SEED_REASON
