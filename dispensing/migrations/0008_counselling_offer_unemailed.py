from django.db import migrations, models


class Migration(migrations.Migration):
    dependencies = [
        ("dispensing", "0007_lot_on_sale_expiry"),
    ]

    operations = [
        # The sweep of lost work reads only the counselling offers not emailed yet.
        migrations.AddIndex(
            model_name="counsellingoffer",
            index=models.Index(
                condition=models.Q(("emailed_at__isnull", True)),
                fields=["offered_at"],
                name="counselling_offer_unemailed",
            ),
        ),
    ]
