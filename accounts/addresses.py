"""Email addresses: the one form they are stored and compared in, and which are refused.

An address is an identity here: a telemedicine prescription joins the account whose
address it names. Comparing case-insensitively in the database is not safe across
scripts (PostgreSQL's UPPER of the dotless i, U+0131, is 'I', so a look-alike
domain matched the real one), so every address is reduced to one canonical form when
it is stored and when it is looked up, and compared exactly.
"""

import unicodedata

from confusable_homoglyphs import categories, confusables
from django.conf import settings
from django.core.exceptions import ValidationError
from email_validator import EmailNotValidError, validate_email

# Scripts that are written together (UTS #39, "highly restrictive"): a Japanese or
# Korean domain label mixes them legitimately.
_SCRIPTS_WRITTEN_TOGETHER = (
    frozenset({"HAN", "HIRAGANA", "KATAKANA"}),
    frozenset({"HAN", "HANGUL"}),
)
_ASCII_UPPER = str.maketrans("ABCDEFGHIJKLMNOPQRSTUVWXYZ", "abcdefghijklmnopqrstuvwxyz")


def _validated(address: str):
    try:
        return validate_email(
            address.strip(),
            check_deliverability=False,
            # Reserved names such as .test can never receive mail; tests and
            # development may allow them, production does not.
            test_environment=settings.ALLOW_TEST_EMAIL_DOMAINS,
        )
    except EmailNotValidError as exc:
        raise ValidationError(f"Enter a valid email address: {exc}", code="invalid") from None


def canonical_email(address: str) -> str:
    """The address as it is stored and compared: domain in IDNA (ASCII), lowercased.

    In the local part only A-Z are lowercased (allauth lowercases what people type, so
    the forms agree); folding other letters could merge two mailboxes. Raises ValidationError,
    with email-validator's reason, for an address that is not valid (a domain that is
    not valid IDNA, a reserved domain name outside tests).
    """
    info = _validated(address)
    return f"{info.local_part.translate(_ASCII_UPPER)}@{info.ascii_domain.lower()}"


def _lookalike(label: str) -> str | None:
    """Why a domain label would be mistaken for another one, or None."""
    if label.isascii():
        return None
    scripts = categories.unique_aliases(label) - {"COMMON", "INHERITED"}
    if len(scripts) > 1 and not any(scripts <= together for together in _SCRIPTS_WRITTEN_TOGETHER):
        return f"“{label}” mixes {' and '.join(sorted(s.title() for s in scripts))} letters."
    for found in confusables.is_confusable(label, greedy=True) or []:
        character = found["character"]
        ascii_twins = [h["c"] for h in found["homoglyphs"] if h["c"].isascii() and h["c"].isalnum()]
        if not character.isascii() and ascii_twins:
            name = unicodedata.name(character, "a letter").lower()
            return f"“{label}” has “{character}” ({name}), which looks like “{ascii_twins[0]}”."
    return None


def clean_new_address(address: str) -> str:
    """An address a person signs up with or adds: canonical, and not a look-alike.

    A domain that mixes scripts, or has a letter that looks like a plain ASCII one
    (a dotless i, U+0131, for an i), reads as another domain to the patient and to a
    pharmacist comparing addresses by eye, so it is refused with the reason.
    """
    info = _validated(address)
    for label in info.domain.split("."):
        reason = _lookalike(label)
        if reason:
            raise ValidationError(
                f"This address cannot be used: its domain {info.domain} could be mistaken "
                f"for another one; {reason} Please use another address.",
                code="lookalike_domain",
            )
    return canonical_email(address)
