"""Pharmacists, who read the audit trail, also read what passed between the pharmacy
and its partners, the outbox and the renewal requests."""

from django.db import migrations

PERMISSIONS = {
    "prescriptions.partnerexchange": ["view"],
    "prescriptions.partnerrequest": ["view"],
    "prescriptions.renewalrequest": ["view"],
}


def grant_view(apps, schema_editor):
    from accounts.roles import PHARMACIST, grant

    grant(apps, PHARMACIST, PERMISSIONS)


class Migration(migrations.Migration):
    dependencies = [("prescriptions", "0017_partner_requests_and_renewals")]

    operations = [migrations.RunPython(grant_view, migrations.RunPython.noop)]
