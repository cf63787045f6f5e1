"""Pharmacists, who read the audit trail, also read the counters of refused looks."""

from django.db import migrations

PERMISSIONS = {"prescriptions.deniedattempt": ["view"]}


def grant_view(apps, schema_editor):
    from accounts.roles import PHARMACIST, grant

    grant(apps, PHARMACIST, PERMISSIONS)


class Migration(migrations.Migration):
    dependencies = [
        ("prescriptions", "0007_audit_lists_history_denied_attempts"),
        # That migration sets the group's permissions exactly; add to them after it.
        ("orders", "0004_pharmacist_discrepancy_permissions"),
    ]

    operations = [migrations.RunPython(grant_view, migrations.RunPython.noop)]
