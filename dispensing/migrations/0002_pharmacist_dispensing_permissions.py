"""Pharmacists receive lots, work the "to check" queue and read what was dispensed.

Nothing here is changed or deleted through the admin: lots are received (add) and
then read-only, the final checks and dispense records are written by the check.
"""

from django.db import migrations

PERMISSIONS = {
    "dispensing.lot": ["view", "add"],
    "dispensing.ordertocheck": ["view"],
    "dispensing.finalcheck": ["view", "perform"],
    "dispensing.dispenserecord": ["view"],
}


def grant_pharmacists(apps, schema_editor):
    from accounts.roles import PHARMACIST, grant

    grant(apps, PHARMACIST, PERMISSIONS)


class Migration(migrations.Migration):
    dependencies = [
        ("dispensing", "0001_initial"),
        ("prescriptions", "0002_pharmacist_group"),
    ]

    operations = [migrations.RunPython(grant_pharmacists, migrations.RunPython.noop)]
