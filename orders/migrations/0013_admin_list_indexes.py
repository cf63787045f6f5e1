"""Indexes for the orders list: its order (newest first), by status, and (PostgreSQL
only) a trigram index for the delivery name's search."""

from django.conf import settings
from django.db import migrations, models

INDEXES = {"order_ship_name_trgm": "USING gin (UPPER(ship_name::text) gin_trgm_ops)"}


def create_indexes(apps, schema_editor):
    if schema_editor.connection.vendor != "postgresql":
        return
    for name, definition in INDEXES.items():
        schema_editor.execute(f"CREATE INDEX IF NOT EXISTS {name} ON orders_order {definition}")


def drop_indexes(apps, schema_editor):
    if schema_editor.connection.vendor != "postgresql":
        return
    for name in INDEXES:
        schema_editor.execute(f"DROP INDEX IF EXISTS {name}")


class Migration(migrations.Migration):
    dependencies = [
        ("accounts", "0003_trigram_search"),
        ("orders", "0012_auto_refill"),
        migrations.swappable_dependency(settings.AUTH_USER_MODEL),
    ]

    operations = [
        migrations.AddIndex(
            model_name="order",
            index=models.Index(fields=["created_at", "id"], name="order_created"),
        ),
        migrations.AddIndex(
            model_name="order",
            index=models.Index(fields=["status", "created_at", "id"], name="order_status_created"),
        ),
        migrations.RunPython(create_indexes, drop_indexes),
    ]
