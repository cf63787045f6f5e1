"""Catalog staff adjust stock (an adjustment is "added") and read past adjustments.

"add" on StockAdjustment is the right to move stock; nobody changes or deletes one.
"""

from django.db import migrations

PERMISSIONS = {"catalog.stockadjustment": ["view", "add"]}


def grant_adjust(apps, schema_editor):
    from accounts.roles import CATALOG_STAFF, grant

    grant(apps, CATALOG_STAFF, PERMISSIONS)


class Migration(migrations.Migration):
    dependencies = [
        ("catalog", "0005_stock_adjustment"),
        ("catalog", "0003_catalog_staff_group"),
    ]

    operations = [migrations.RunPython(grant_adjust, migrations.RunPython.noop)]
