"""Existing addresses in the canonical form new ones are stored in (domain in IDNA).

Lookups now compare exactly, so a row kept in another spelling (a Unicode domain)
would no longer be found. An address that cannot be reduced (not valid), or whose
canonical form another row already holds, is left as it is.
"""

from django.db import migrations
from email_validator import EmailNotValidError, validate_email

_ASCII_UPPER = str.maketrans("ABCDEFGHIJKLMNOPQRSTUVWXYZ", "abcdefghijklmnopqrstuvwxyz")


def canonical(address: str) -> str | None:
    # A frozen copy of accounts.addresses.canonical_email, so that this migration
    # keeps meaning what it meant when the code changes.
    try:
        info = validate_email(address.strip(), check_deliverability=False, test_environment=True)
    except EmailNotValidError:
        return None
    return f"{info.local_part.translate(_ASCII_UPPER)}@{info.ascii_domain.lower()}"


def _canonicalise(model, *, taken) -> None:
    for pk, email in model.objects.values_list("pk", "email").iterator():
        new = canonical(email) if email else None
        if new and new != email and not taken(model, pk, new):
            model.objects.filter(pk=pk).update(email=new)


def forwards(apps, schema_editor):
    User = apps.get_model("accounts", "User")
    EmailAddress = apps.get_model("account", "EmailAddress")
    _canonicalise(User, taken=lambda m, pk, new: m.objects.filter(email=new).exists())

    def address_taken(model, pk, new):
        row = model.objects.get(pk=pk)
        clash = model.objects.filter(email=new).exclude(pk=pk)
        if clash.filter(user_id=row.user_id).exists():
            return True
        return row.verified and clash.filter(verified=True).exists()

    _canonicalise(EmailAddress, taken=address_taken)


class Migration(migrations.Migration):
    dependencies = [
        ("accounts", "0001_initial"),
        ("account", "0009_emailaddress_unique_primary_email"),
    ]

    operations = [migrations.RunPython(forwards, migrations.RunPython.noop, elidable=True)]
