"""The Pharmacist group works the verification queue and reads the audit trail."""

from django.db import migrations

PERMISSIONS = {
    "prescriptions.medicalprofile": ["view"],
    "prescriptions.prescription": ["view", "change", "verify"],
    "prescriptions.prescriptiondocument": ["view"],
    "prescriptions.statuschange": ["view"],
    "prescriptions.auditevent": ["view"],
}


def update_group(apps, schema_editor):
    from accounts.roles import PHARMACIST, ensure_group

    ensure_group(apps, PHARMACIST, PERMISSIONS)


class Migration(migrations.Migration):
    dependencies = [("prescriptions", "0004_prescriptions_documents_audit")]

    operations = [migrations.RunPython(update_group, migrations.RunPython.noop)]
