"""Prescriptions' patient addresses in the canonical form (domain in IDNA).

A waiting prescription is attached by exact comparison with the account's
address, so it must be kept in the same form. An address that cannot be reduced
is left as it is (it then names no account).
"""

from django.db import migrations
from email_validator import EmailNotValidError, validate_email

_ASCII_UPPER = str.maketrans("ABCDEFGHIJKLMNOPQRSTUVWXYZ", "abcdefghijklmnopqrstuvwxyz")


def canonical(address: str) -> str | None:
    # A frozen copy of accounts.addresses.canonical_email.
    try:
        info = validate_email(address.strip(), check_deliverability=False, test_environment=True)
    except EmailNotValidError:
        return None
    return f"{info.local_part.translate(_ASCII_UPPER)}@{info.ascii_domain.lower()}"


def forwards(apps, schema_editor):
    Prescription = apps.get_model("prescriptions", "Prescription")
    for pk, email in Prescription.objects.values_list("pk", "patient_email").iterator():
        new = canonical(email)
        if new and new != email:
            Prescription.objects.filter(pk=pk).update(patient_email=new)


class Migration(migrations.Migration):
    dependencies = [("prescriptions", "0009_prescription_identity_accepted_for")]

    operations = [migrations.RunPython(forwards, migrations.RunPython.noop, elidable=True)]
