"""Indexes for a patient's own orders list (newest first) and the pharmacist's "to
check" queue (paid, not yet checked, oldest payment first; partial: only those rows)."""

from django.conf import settings
from django.db import migrations, models


class Migration(migrations.Migration):
    dependencies = [
        ("orders", "0014_refill_due_on_and_job_indexes"),
        migrations.swappable_dependency(settings.AUTH_USER_MODEL),
    ]

    operations = [
        migrations.AddIndex(
            model_name="order",
            index=models.Index(
                fields=["patient", "created_at", "id"], name="order_patient_created"
            ),
        ),
        migrations.AddIndex(
            model_name="order",
            index=models.Index(
                condition=models.Q(("checked_at__isnull", True), ("status", "paid")),
                fields=["paid_at", "id"],
                name="order_to_check",
            ),
        ),
    ]
