"""Pharmacists see orders and may refund or cancel them; catalog staff do not."""

from django.db import migrations

PERMISSIONS = {
    "prescriptions.medicalprofile": ["view"],
    "prescriptions.prescription": ["view", "change", "verify"],
    "prescriptions.prescriptiondocument": ["view"],
    "prescriptions.statuschange": ["view"],
    "prescriptions.auditevent": ["view"],
    "orders.order": ["view", "refund"],
    "orders.paymentevent": ["view"],
    "orders.shipment": ["view"],
}


def update_group(apps, schema_editor):
    from accounts.roles import PHARMACIST, ensure_group

    ensure_group(apps, PHARMACIST, PERMISSIONS)


class Migration(migrations.Migration):
    dependencies = [
        ("orders", "0001_initial"),
        ("prescriptions", "0005_pharmacist_prescription_permissions"),
    ]

    operations = [migrations.RunPython(update_group, migrations.RunPython.noop)]
