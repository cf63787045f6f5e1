"""Catalog staff edit the drugs' condition and renal-threshold rows, as the others.

Adds the permissions rather than resetting the group, so it composes with other
migrations that grant the group something.
"""

from django.db import migrations

ACTIONS = ["view", "add", "change", "delete"]
MODELS = ["drugcondition", "renalthreshold"]


def grant(apps, schema_editor):
    from django.contrib.auth.management import create_permissions

    from accounts.roles import CATALOG_STAFF

    # Permissions are normally created after all migrations ran.
    for app_config in apps.get_app_configs():
        app_config.models_module = True
        create_permissions(app_config, apps=apps, verbosity=0)
        app_config.models_module = None
    Group = apps.get_model("auth", "Group")
    Permission = apps.get_model("auth", "Permission")
    group, _ = Group.objects.get_or_create(name=CATALOG_STAFF)
    group.permissions.add(
        *Permission.objects.filter(
            content_type__app_label="catalog",
            codename__in=[f"{a}_{m}" for a in ACTIONS for m in MODELS],
        )
    )


class Migration(migrations.Migration):
    dependencies = [
        ("catalog", "0011_drug_must_not_stop_suddenly"),
        ("catalog", "0003_catalog_staff_group"),
    ]

    operations = [migrations.RunPython(grant, migrations.RunPython.noop)]
