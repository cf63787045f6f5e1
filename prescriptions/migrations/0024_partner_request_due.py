from django.db import migrations, models


class Migration(migrations.Migration):
    dependencies = [
        ("prescriptions", "0023_queue_rank_and_search_indexes"),
    ]

    operations = [
        # The every-minute delivery sweep reads only the requests still to deliver.
        migrations.AddIndex(
            model_name="partnerrequest",
            index=models.Index(
                condition=models.Q(("state", "pending")),
                fields=["next_attempt_at"],
                name="partner_request_due",
            ),
        ),
    ]
