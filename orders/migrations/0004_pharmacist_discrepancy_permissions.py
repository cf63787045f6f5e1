"""Pharmacists review what the nightly payment reconciliation finds."""

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
    "orders.discrepancy": ["view", "change"],
}


def update_group(apps, schema_editor):
    from accounts.roles import PHARMACIST, ensure_group

    ensure_group(apps, PHARMACIST, PERMISSIONS)


class Migration(migrations.Migration):
    dependencies = [("orders", "0003_discrepancy")]

    operations = [migrations.RunPython(update_group, migrations.RunPython.noop)]
