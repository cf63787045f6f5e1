"""The queue's order stored and indexed, indexes for the admin lists' filters and
orderings, and (PostgreSQL only) the search indexes: trigram for names, the lowered
email's prefix."""

from django.conf import settings
from django.db import migrations, models
from django.db.models import Min, OuterRef, Q, Subquery

TRIGRAM = "USING gin (UPPER({}::text) gin_trgm_ops)"
INDEXES = {
    "prescriptions_prescription": {
        "prescription_email_lower": "(LOWER(patient_email::text) text_pattern_ops)",
        "prescription_patient_trgm": TRIGRAM.format("patient_name"),
        "prescription_prescriber_trgm": TRIGRAM.format("prescriber_name"),
    },
    "prescriptions_auditevent": {
        "audit_object_repr_trgm": TRIGRAM.format("object_repr"),
    },
}


def fill_order_waiting(apps, schema_editor):
    """When the oldest order still waiting for each prescription had its card authorised."""
    Prescription = apps.get_model("prescriptions", "Prescription")
    OrderLine = apps.get_model("orders", "OrderLine")
    waiting = OrderLine.objects.filter(order__status="authorised").values("prescription_id")
    since = (
        OrderLine.objects.filter(prescription_id=OuterRef("pk"), order__status="authorised")
        .values("prescription_id")
        .annotate(since=Min("order__authorised_at"))
        .values("since")
    )
    Prescription.objects.filter(pk__in=waiting).update(order_waiting_since=Subquery(since[:1]))


def create_indexes(apps, schema_editor):
    if schema_editor.connection.vendor != "postgresql":
        return
    for table, indexes in INDEXES.items():
        for name, definition in indexes.items():
            schema_editor.execute(f"CREATE INDEX IF NOT EXISTS {name} ON {table} {definition}")


def drop_indexes(apps, schema_editor):
    if schema_editor.connection.vendor != "postgresql":
        return
    for indexes in INDEXES.values():
        for name in indexes:
            schema_editor.execute(f"DROP INDEX IF EXISTS {name}")


class Migration(migrations.Migration):
    dependencies = [
        ("accounts", "0003_trigram_search"),
        ("catalog", "0017_patient_leaflet_sections"),
        ("orders", "0012_auto_refill"),
        ("prescriptions", "0022_dispensing_audit_actions"),
        migrations.swappable_dependency(settings.AUTH_USER_MODEL),
    ]

    operations = [
        migrations.AddField(
            model_name="prescription",
            name="order_waiting_since",
            field=models.DateTimeField(blank=True, editable=False, null=True),
        ),
        migrations.RunPython(fill_order_waiting, migrations.RunPython.noop),
        migrations.AddField(
            model_name="prescription",
            name="queue_rank",
            field=models.GeneratedField(
                db_persist=True,
                expression=models.Case(
                    models.When(order_waiting_since__isnull=False, status="submitted", then=0),
                    models.When(status="submitted", then=1),
                    models.When(status="needs_info", then=2),
                    default=3,
                ),
                output_field=models.PositiveSmallIntegerField(),
            ),
        ),
        migrations.AddIndex(
            model_name="auditevent",
            index=models.Index(fields=["at", "id"], name="audit_at"),
        ),
        migrations.AddIndex(
            model_name="auditevent",
            index=models.Index(fields=["action", "at", "id"], name="audit_action_at"),
        ),
        migrations.AddIndex(
            model_name="auditevent",
            index=models.Index(fields=["allowed", "at", "id"], name="audit_allowed_at"),
        ),
        migrations.AddIndex(
            model_name="auditevent",
            index=models.Index(
                fields=["path"], name="audit_path", opclasses=["varchar_pattern_ops"]
            ),
        ),
        migrations.AddIndex(
            model_name="prescription",
            index=models.Index(
                fields=["queue_rank", "order_waiting_since", "submitted_at", "id"],
                name="prescription_queue",
            ),
        ),
        migrations.AddIndex(
            model_name="prescription",
            index=models.Index(
                fields=["status", "queue_rank", "order_waiting_since", "submitted_at", "id"],
                name="prescription_queue_status",
            ),
        ),
        migrations.AddIndex(
            model_name="prescription",
            index=models.Index(
                condition=Q(order_waiting_since__isnull=False),
                fields=["order_waiting_since"],
                name="prescription_order_waiting",
            ),
        ),
        migrations.AddIndex(
            model_name="prescription",
            index=models.Index(fields=["submitted_at", "id"], name="prescription_submitted"),
        ),
        migrations.AddIndex(
            model_name="prescription",
            index=models.Index(
                fields=["prescriber_npi"], name="prescription_npi", opclasses=["varchar_pattern_ops"]
            ),
        ),
        migrations.AddIndex(
            model_name="prescription",
            index=models.Index(fields=["partner_reference"], name="prescription_partner_ref"),
        ),
        migrations.AddIndex(
            model_name="consultation",
            index=models.Index(fields=["created_at", "id"], name="consultation_created"),
        ),
        migrations.RunPython(create_indexes, drop_indexes),
    ]
