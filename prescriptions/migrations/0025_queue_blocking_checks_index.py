from django.db import migrations, models


class Migration(migrations.Migration):
    dependencies = [
        ("prescriptions", "0024_partner_request_due"),
    ]

    operations = [
        # The queue filtered to blocking findings: the few such prescriptions, counted and
        # read in queue order, instead of every prescription read and filtered.
        migrations.AddIndex(
            model_name="prescription",
            index=models.Index(
                condition=models.Q(("has_blocking_checks", True)),
                fields=["queue_rank", "order_waiting_since", "submitted_at", "id"],
                name="prescription_queue_blocking",
            ),
        ),
    ]
