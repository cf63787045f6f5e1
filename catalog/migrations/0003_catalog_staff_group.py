"""The "Catalog staff" group: edits monographs, prices and stock; nothing else."""

from django.db import migrations

EDIT = ["view", "add", "change"]
EDIT_AND_REMOVE = ["view", "add", "change", "delete"]

PERMISSIONS = {
    "catalog.drug": EDIT,
    "catalog.monographsection": EDIT_AND_REMOVE,
    "catalog.dosingguideline": EDIT_AND_REMOVE,
    "catalog.interaction": EDIT_AND_REMOVE,
    "catalog.medicationclass": EDIT,
    "catalog.formulation": EDIT,
    "catalog.package": EDIT,
}


def create_group(apps, schema_editor):
    from accounts.roles import CATALOG_STAFF, ensure_group

    ensure_group(apps, CATALOG_STAFF, PERMISSIONS)


class Migration(migrations.Migration):
    dependencies = [
        ("catalog", "0002_load_baclofen"),
        ("auth", "0012_alter_user_first_name_max_length"),
        ("contenttypes", "0002_remove_content_type_name"),
    ]

    operations = [migrations.RunPython(create_group, migrations.RunPython.noop)]
