"""Add the 30- and 90-tablet packs of the seed's price tables to a catalog loaded before
they were there; sizes a strength already has (and every staff edit) are left alone."""

from types import SimpleNamespace

from django.db import migrations


def add_packs(apps, schema_editor):
    from catalog.seed import load_packages, read_seed

    parsed = read_seed("baclofen-monograph.txt")
    models = SimpleNamespace(
        Formulation=apps.get_model("catalog", "Formulation"),
        Package=apps.get_model("catalog", "Package"),
    )
    drug = apps.get_model("catalog", "Drug").objects.filter(name=parsed.name).first()
    if drug is not None:
        load_packages(drug, parsed, models=models)


class Migration(migrations.Migration):
    dependencies = [("catalog", "0014_formulation_rxnorm_code")]

    operations = [migrations.RunPython(add_packs, migrations.RunPython.noop)]
