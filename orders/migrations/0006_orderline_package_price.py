from django.db import migrations


class Migration(migrations.Migration):
    """`unit_price` was the price of one package, not of one unit (a pill): say so."""

    dependencies = [
        ("orders", "0005_payments_pay_only_their_own_order"),
    ]

    operations = [
        migrations.RenameField(
            model_name="orderline", old_name="unit_price", new_name="package_price"
        ),
    ]
