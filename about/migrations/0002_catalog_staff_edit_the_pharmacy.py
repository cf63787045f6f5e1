"""Catalog staff, who keep the site's content, keep the pharmacy's details, licences
and notices too. Nobody deletes the details (the admin refuses): they are changed."""

from django.db import migrations

PERMISSIONS = {
    "about.pharmacyidentity": ["view", "add", "change"],
    "about.statelicence": ["view", "add", "change", "delete"],
    "about.policy": ["view", "add", "change"],
}


def grant_pharmacy(apps, schema_editor):
    from accounts.roles import CATALOG_STAFF, grant

    grant(apps, CATALOG_STAFF, PERMISSIONS)


class Migration(migrations.Migration):
    dependencies = [
        ("about", "0001_initial"),
        ("catalog", "0003_catalog_staff_group"),
    ]

    operations = [migrations.RunPython(grant_pharmacy, migrations.RunPython.noop)]
