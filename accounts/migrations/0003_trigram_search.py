"""Search that an index answers, on PostgreSQL: pg_trgm for names (substring, any case)
and the lowered email's prefix. SQLite has neither operator class: it searches the same
way, unindexed (a development database is small)."""

from django.contrib.postgres.operations import TrigramExtension
from django.db import migrations

INDEXES = {
    "accounts_user_email_lower": "(LOWER(email::text) text_pattern_ops)",
    "accounts_user_first_trgm": "USING gin (UPPER(first_name::text) gin_trgm_ops)",
    "accounts_user_last_trgm": "USING gin (UPPER(last_name::text) gin_trgm_ops)",
}


class PostgreSQLTrigramExtension(TrigramExtension):
    """Django's, whose forwards does nothing on SQLite but whose backwards still asks
    SQLite for pg_extension."""

    def database_backwards(self, app_label, schema_editor, from_state, to_state):
        if schema_editor.connection.vendor == "postgresql":
            super().database_backwards(app_label, schema_editor, from_state, to_state)


def create_indexes(apps, schema_editor):
    if schema_editor.connection.vendor != "postgresql":
        return
    for name, definition in INDEXES.items():
        schema_editor.execute(f"CREATE INDEX IF NOT EXISTS {name} ON accounts_user {definition}")


def drop_indexes(apps, schema_editor):
    if schema_editor.connection.vendor != "postgresql":
        return
    for name in INDEXES:
        schema_editor.execute(f"DROP INDEX IF EXISTS {name}")


class Migration(migrations.Migration):
    dependencies = [
        ("accounts", "0002_canonical_email_addresses"),
    ]

    operations = [
        PostgreSQLTrigramExtension(),
        migrations.RunPython(create_indexes, drop_indexes),
    ]
