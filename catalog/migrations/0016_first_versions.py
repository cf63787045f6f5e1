"""Every catalog row without history gets its first version: the values it holds now.

The first drug was loaded by a data migration (0002), whose models write no history,
so its seeded prices and text were not a version staff could compare with or restore.
"""

from django.db import migrations


def first_versions(apps, schema_editor):
    from catalog.versions import record_first_versions

    record_first_versions(apps=apps)


class Migration(migrations.Migration):
    dependencies = [("catalog", "0015_baclofen_30_and_90_tablet_packs")]

    operations = [migrations.RunPython(first_versions, migrations.RunPython.noop)]
