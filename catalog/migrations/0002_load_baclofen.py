"""Load the baclofen monograph and prices from catalog/data/baclofen-monograph.txt."""

from types import SimpleNamespace

from django.db import migrations

MODELS = (
    "Drug",
    "MonographSection",
    "DosingGuideline",
    "MedicationClass",
    "Interaction",
    "Formulation",
    "Package",
)


def load(apps, schema_editor):
    from catalog.seed import load_monograph, read_seed

    models = SimpleNamespace(**{name: apps.get_model("catalog", name) for name in MODELS})
    load_monograph(read_seed("baclofen-monograph.txt"), models=models)


class Migration(migrations.Migration):
    dependencies = [("catalog", "0001_initial")]

    operations = [migrations.RunPython(load, migrations.RunPython.noop)]
