from django.db import migrations, models


class Migration(migrations.Migration):
    dependencies = [
        ("dispensing", "0005_returns_and_recall_holds"),
    ]

    operations = [
        # The hourly expiry sweep reads only the lots still on sale.
        migrations.AddIndex(
            model_name="lot",
            index=models.Index(
                condition=models.Q(("held_at__isnull", True), ("removed_from_sale_at__isnull", True)),
                fields=["expiry_date"],
                name="lot_on_sale_expiry",
            ),
        ),
    ]
