"""Pharmacists write each drug's consultation questions (a clinical screening) and read
the patients' consultations."""

from django.db import migrations

PERMISSIONS = {
    "prescriptions.consultationquestion": ["view", "add", "change", "delete"],
    "prescriptions.consultation": ["view"],
}


def grant_consultations(apps, schema_editor):
    from accounts.roles import PHARMACIST, grant

    grant(apps, PHARMACIST, PERMISSIONS)


class Migration(migrations.Migration):
    dependencies = [("prescriptions", "0020_consultations")]

    operations = [migrations.RunPython(grant_consultations, migrations.RunPython.noop)]
