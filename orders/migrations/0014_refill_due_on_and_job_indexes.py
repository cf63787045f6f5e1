"""The day each paid line's supply runs out, and the indexes the periodic jobs read.

`refill_due_on` is set at payment from then on (`services.reminders`); this fills it
for the lines paid before, in batches that each commit on their own (the migration is
not atomic), so a backfill interrupted on a large table resumes where it stopped. The
indexes are created after the backfill, which is cheaper than updating them row by row,
and on PostgreSQL CONCURRENTLY, so orders are placed and paid while they are built.
"""

from datetime import timedelta
from decimal import Decimal

from django.db import migrations, models, transaction
from django.utils import timezone

BATCH = 1000


def run_out_date(line) -> object:
    """As `orders.supply.run_out_date`, over the historical models."""
    prescription = line.prescription
    if prescription is None or line.order.paid_at is None:
        return None
    if prescription.units_per_dose is None or prescription.doses_per_day is None:
        return None
    daily = prescription.units_per_dose * prescription.doses_per_day
    if not daily:
        return None
    days = int(Decimal(line.quantity * line.pills_per_package) // daily)
    return timezone.localdate(line.order.paid_at) + timedelta(days=days)


def backfill_refill_due_on(apps, schema_editor):
    OrderLine = apps.get_model("orders", "OrderLine")
    alias = schema_editor.connection.alias
    todo = OrderLine.objects.using(alias).filter(
        refill_due_on__isnull=True,
        order__paid_at__isnull=False,
        prescription__units_per_dose__isnull=False,
        prescription__doses_per_day__isnull=False,
    )
    last = 0
    while True:
        with transaction.atomic(using=alias):
            lines = list(
                todo.filter(pk__gt=last)
                .select_related("order", "prescription")
                .only(
                    "quantity",
                    "pills_per_package",
                    "order__paid_at",
                    "prescription__units_per_dose",
                    "prescription__doses_per_day",
                )
                .order_by("pk")[:BATCH]
            )
            if not lines:
                return
            for line in lines:
                line.refill_due_on = run_out_date(line)
            OrderLine.objects.using(alias).bulk_update(
                [line for line in lines if line.refill_due_on], ["refill_due_on"]
            )
        last = lines[-1].pk


class AddIndexWithoutLock(migrations.AddIndex):
    """AddIndex; on PostgreSQL built CONCURRENTLY (writes go on meanwhile), which needs
    a migration that is not atomic. Other databases build it as AddIndex does."""

    def database_forwards(self, app_label, schema_editor, from_state, to_state):
        model = to_state.apps.get_model(app_label, self.model_name)
        if schema_editor.connection.vendor != "postgresql":
            return super().database_forwards(app_label, schema_editor, from_state, to_state)
        if self.allow_migrate_model(schema_editor.connection.alias, model):
            schema_editor.add_index(model, self.index, concurrently=True)

    def database_backwards(self, app_label, schema_editor, from_state, to_state):
        model = from_state.apps.get_model(app_label, self.model_name)
        if schema_editor.connection.vendor != "postgresql":
            return super().database_backwards(app_label, schema_editor, from_state, to_state)
        if self.allow_migrate_model(schema_editor.connection.alias, model):
            schema_editor.remove_index(model, self.index, concurrently=True)


class Migration(migrations.Migration):
    atomic = False

    dependencies = [
        ("orders", "0013_admin_list_indexes"),
        ("prescriptions", "0021_pharmacist_consultation_permissions"),
    ]

    operations = [
        migrations.AddField(
            model_name="orderline",
            name="refill_due_on",
            field=models.DateField(
                blank=True,
                help_text="The first day without medicine, from the directions and the units "
                "bought; set when the order is paid. The refill reminders look ahead by it.",
                null=True,
                verbose_name="supply runs out on",
            ),
        ),
        migrations.RunPython(backfill_refill_due_on, migrations.RunPython.noop, elidable=True),
        AddIndexWithoutLock(
            model_name="orderline",
            index=models.Index(
                condition=models.Q(("refill_due_on__isnull", False)),
                fields=["refill_due_on"],
                name="order_line_refill_due_on",
            ),
        ),
        AddIndexWithoutLock(
            model_name="order",
            index=models.Index(
                condition=models.Q(("status", "pending_payment")),
                fields=["payment_due_by"],
                name="order_unpaid_due_by",
            ),
        ),
        AddIndexWithoutLock(
            model_name="order",
            index=models.Index(
                condition=models.Q(("paid_at__isnull", False)),
                fields=["paid_at"],
                name="order_paid_at",
            ),
        ),
        AddIndexWithoutLock(
            model_name="order",
            index=models.Index(
                condition=models.Q(("checked_at__isnull", False), ("status", "paid")),
                fields=["checked_at"],
                name="order_checked_not_shipped",
            ),
        ),
        AddIndexWithoutLock(
            model_name="notification",
            index=models.Index(
                condition=models.Q(("sent_at__isnull", True)),
                fields=["created_at"],
                name="notification_unsent",
            ),
        ),
        AddIndexWithoutLock(
            model_name="paymentevent",
            index=models.Index(
                condition=models.Q(("processed_at__isnull", True)),
                fields=["received_at"],
                name="payment_event_unprocessed",
            ),
        ),
        AddIndexWithoutLock(
            model_name="autorefill",
            index=models.Index(
                condition=models.Q(("status", "active")),
                fields=["next_run_on"],
                name="auto_refill_active_next_run",
            ),
        ),
    ]
