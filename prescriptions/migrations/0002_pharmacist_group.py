"""The "Pharmacist" group: reads patient profiles; edits no prices, users or history."""

from django.db import migrations

PERMISSIONS = {
    "prescriptions.medicalprofile": ["view"],
}


def create_group(apps, schema_editor):
    from accounts.roles import PHARMACIST, ensure_group

    ensure_group(apps, PHARMACIST, PERMISSIONS)


class Migration(migrations.Migration):
    dependencies = [
        ("prescriptions", "0001_initial"),
        ("auth", "0012_alter_user_first_name_max_length"),
        ("contenttypes", "0002_remove_content_type_name"),
    ]

    operations = [migrations.RunPython(create_group, migrations.RunPython.noop)]
