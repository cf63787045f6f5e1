"""Whose prescription this is: the account it names, and whether that account is its patient.

A prescription is written for a person. The address it names proves little on its
own (an address can be added to another account, or spelt with a look-alike letter),
so an account takes a partner prescription only when its verified primary address is
the one named AND its name and date of birth are the prescription's patient's. Any
difference is a blocking finding a pharmacist resolves; it is never settled silently.
"""

import unicodedata
from dataclasses import dataclass
from datetime import date

from allauth.account.models import EmailAddress
from django.core.exceptions import ValidationError

from accounts.addresses import canonical_email

from ..checks import CheckResult, Level
from ..models import MedicalProfile, Prescription

IDENTITY_MISMATCH_CODE = "identity_mismatch"
_SOURCE = "A prescription is dispensed only to the patient it was written for."
_APOSTROPHES = str.maketrans("", "", "'’ʼ`")


def normalised_name(name: str) -> str:
    """Names compared as a person would: case, accents, hyphens and spacing aside."""
    decomposed = unicodedata.normalize("NFKD", name.translate(_APOSTROPHES))
    bare = "".join(c for c in decomposed if not unicodedata.combining(c))
    return " ".join(bare.replace("-", " ").casefold().split())


@dataclass(frozen=True)
class Identity:
    """Who an account says it is: its name and the date of birth on its profile."""

    user_id: int
    email: str
    name: str
    date_of_birth: date | None  # None: no profile (or no date of birth) yet

    @property
    def acceptance_key(self) -> str:
        """What a pharmacist accepted; a later change to the account asks again."""
        born = self.date_of_birth.isoformat() if self.date_of_birth else ""
        return f"{self.user_id}|{normalised_name(self.name)}|{born}"


def account_identity(user, *, profile=False) -> Identity:
    """`profile`: the user's medical profile (or None), when the caller has it loaded."""
    if profile is not False:
        born = profile.date_of_birth if profile else None
    else:
        born = (
            MedicalProfile.objects.filter(user_id=user.pk)
            .values_list("date_of_birth", flat=True)
            .first()
        )
    return Identity(
        user_id=user.pk,
        email=user.email,
        name=f"{user.first_name} {user.last_name}".strip(),
        date_of_birth=born,
    )


def comparable_email(address: str) -> str | None:
    """The canonical form, or None for an address that has none (it matches nothing)."""
    try:
        return canonical_email(address)
    except ValidationError:
        return None


def named_account(email: str):
    """The active account whose verified primary address is exactly `email`, or None.

    A secondary address, even verified, names nobody: it can be added to any account,
    and one click by its owner on the confirmation mail would hand their
    prescriptions to that account.
    """
    email = comparable_email(email)
    if email is None:
        return None
    address = (
        EmailAddress.objects.filter(email=email, verified=True, primary=True)
        .select_related("user")
        .first()
    )
    if address is None or not address.user.is_active or address.user.email != email:
        return None
    return address.user


def identity_differences(*, name: str, date_of_birth: date | None, identity: Identity) -> list[str]:
    """What differs between a prescription's patient and an account, in words.

    A date of birth missing on either side cannot differ: a patient who has just
    signed up has no profile yet, and the checks then use the prescription's date.
    A name must be there on both sides and agree.
    """
    differences = []
    if not normalised_name(identity.name):
        differences.append(f"the account {identity.email} has no name to compare with {name!r}")
    elif normalised_name(name) != normalised_name(identity.name):
        differences.append(f"name: prescription {name!r}, account {identity.name!r}")
    if date_of_birth and identity.date_of_birth and date_of_birth != identity.date_of_birth:
        differences.append(
            f"date of birth: prescription {date_of_birth.isoformat()}, "
            f"account profile {identity.date_of_birth.isoformat()}"
        )
    return differences


def prescription_identity_differences(prescription: Prescription, identity: Identity) -> list[str]:
    return identity_differences(
        name=prescription.patient_name,
        date_of_birth=prescription.patient_date_of_birth,
        identity=identity,
    )


def identity_findings(
    prescription: Prescription, *, account=None, profile=False
) -> list[CheckResult]:
    """The prescription's patient against its account (or the account it names).

    Blocking while it differs; once a pharmacist accepted exactly this account's
    name and date of birth (with a written reason, in the status history), a
    warning that keeps the difference in sight. A caller that has read the patient's
    user row and profile in its transaction passes them (`account`, `profile`); they
    are used only for the account the prescription is attached to.
    """
    if prescription.patient_id:
        if account is None or account.pk != prescription.patient_id:
            account = prescription.patient
        attached = True
    else:
        account, attached, profile = named_account(prescription.patient_email), False, False
        if account is None:
            return []  # waiting for its patient to sign up and confirm the address
    identity = account_identity(account, profile=profile)
    differences = prescription_identity_differences(prescription, identity)
    if not differences:
        return []
    detail = "; ".join(differences) + "."
    if prescription.identity_accepted_for == identity.acceptance_key:
        return [
            CheckResult(
                IDENTITY_MISMATCH_CODE,
                Level.WARN,
                "Identity difference accepted by a pharmacist",
                f"{detail[0].upper()}{detail[1:]} See the status history for who and why.",
                _SOURCE,
            )
        ]
    where = (
        f"The account {identity.email} it is attached to does not match the patient"
        if attached
        else f"Not attached to the account {identity.email}, whose patient differs"
    )
    return [
        CheckResult(
            IDENTITY_MISMATCH_CODE,
            Level.BLOCK,
            "Identity mismatch: the patient may not be the account holder",
            f"{where}: {detail} Reject it, or accept the identity with a written reason.",
            _SOURCE,
        )
    ]


def differs_from_account(user, *, name: str, date_of_birth) -> bool:
    return bool(
        identity_differences(
            name=name, date_of_birth=date_of_birth, identity=account_identity(user)
        )
    )


def prescription_is_own(*, prescription: Prescription, user) -> bool:
    """Is it `user`'s own: attached to their account, or waiting for one of their addresses."""
    if prescription.patient_id is not None:
        return prescription.patient_id == user.pk
    addresses = set(EmailAddress.objects.filter(user=user).values_list("email", flat=True))
    return prescription.patient_email in addresses | {user.email}


def refuse_own_prescription(prescription: Prescription, pharmacist) -> None:
    """Nobody checks their own prescription: the second pair of eyes is the point."""
    if prescription_is_own(prescription=prescription, user=pharmacist):
        raise ValidationError(
            "This prescription is for your own account: another pharmacist must decide on it."
        )
