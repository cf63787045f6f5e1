"""The pure half of the telemedicine e-prescription intake: signatures and payload.

The view, the model and the service that stores a prescription live elsewhere; what
is here needs no request and no saved row, so it can be tested on its own. Every
refusal names what is wrong, because its reader is a partner's developer fixing an
integration, and one round trip per mistake would make that slow.

Validation is plain code rather than Django forms: a form field cannot tell the JSON
number 90 from the string "90", 90.0 or true, and those differences are the point.
"""

import hashlib
import hmac
import json
import re
from dataclasses import dataclass
from datetime import date
from decimal import Decimal
from typing import Any

from django.core.exceptions import ValidationError

from accounts.addresses import canonical_email
from catalog.models import DosageForm, Drug, Formulation

from .npi import npi_is_valid

SIGNATURE_HEADER = "Telemedicine-Signature"
PARTNER_HEADER = "X-Partner"
TOLERANCE_SECONDS = 300

_TIMESTAMP = re.compile(r"[0-9]{1,15}")
_HEX_SHA256 = re.compile(r"[0-9a-f]{64}")


class SignatureError(Exception):
    """The request is not proven to come from the partner; the view answers 401."""


def _digest(secret: str, body: bytes, timestamp: int) -> str:
    # The timestamp is signed with the body so that an old request cannot be
    # replayed with a fresh timestamp.
    message = f"{timestamp}.".encode("ascii") + body
    return hmac.new(secret.encode("utf-8"), message, hashlib.sha256).hexdigest()


def sign(*, secret: str, body: bytes, timestamp: int) -> str:
    """The header value a partner sends; the example command and the tests sign with it."""
    return f"t={timestamp},v1={_digest(secret, body, timestamp)}"


def _parse_signature_header(header: str) -> tuple[int, list[str]]:
    malformed = f"Malformed {SIGNATURE_HEADER} header: expected t=<unix seconds>,v1=<hex>"
    pairs = [tuple(p.strip() for p in item.partition("=")) for item in header.split(",")]
    if any(not sep for _, sep, _ in pairs):
        raise SignatureError(f"{malformed}, as comma-separated key=value pairs.")
    timestamps = [value for key, _, value in pairs if key == "t"]
    # Other schemes than v1 are ignored, as Stripe does, so that a partner can send a
    # future scheme beside v1 while both sides migrate.
    signatures = [value.lower() for key, _, value in pairs if key == "v1"]
    if len(timestamps) != 1 or not _TIMESTAMP.fullmatch(timestamps[0]):
        raise SignatureError(f"{malformed}; it needs exactly one t, an integer.")
    if not signatures or not all(_HEX_SHA256.fullmatch(s) for s in signatures):
        raise SignatureError(f"{malformed}; each v1 is 64 hex digits (HMAC-SHA256).")
    return int(timestamps[0]), signatures


def verify_signature(
    *,
    secret: str,
    header: str | None,
    body: bytes,
    now: int,
    tolerance: int = TOLERANCE_SECONDS,
) -> str:
    """Return the v1 signature that matched, so that the caller can refuse its reuse.

    Several v1 entries are allowed because a partner rotating its secret signs with
    both the old and the new one for a while. The signature is checked before the
    timestamp, so only a holder of the secret learns that a timestamp was refused.
    """
    if header is None or not header.strip():
        raise SignatureError(f"Missing {SIGNATURE_HEADER} header.")
    if not secret:
        raise SignatureError("No signing secret is configured for this partner.")
    timestamp, candidates = _parse_signature_header(header)
    expected = _digest(secret, body, timestamp)
    matched = [c for c in candidates if hmac.compare_digest(expected, c)]
    if not matched:
        raise SignatureError(
            "No v1 signature matches: expected hex HMAC-SHA256(secret, f'{t}.{exact body bytes}')."
        )
    if timestamp > now:
        raise SignatureError(f"Timestamp t={timestamp} is in the future (server time {now}).")
    if now - timestamp > tolerance:
        raise SignatureError(
            f"Timestamp t={timestamp} is stale: {now - timestamp} s old, over {tolerance} s."
        )
    return matched[0]


MAX_AGE_YEARS = 130
PRESCRIPTION_VALID_YEARS = 1
REQUIRED = "This field is required."
TOO_OLD_TO_BE_BORN = f"more than {MAX_AGE_YEARS} years ago; check the year."
EXPIRED = "more than a year ago: the prescription has expired."
_ISO_DATE = re.compile(r"[0-9]{4}-[0-9]{2}-[0-9]{2}")
_NPI_SHAPE = re.compile(r"[0-9]{10}")


@dataclass(frozen=True)
class IntakeData:
    partner_reference: str
    patient_email: str
    patient_first_name: str
    patient_last_name: str
    patient_date_of_birth: date
    prescriber_name: str
    prescriber_npi: str
    prescriber_license: str
    drug: Drug
    formulation: Formulation
    directions: str
    units_per_dose: Decimal
    doses_per_day: int
    quantity: int
    refills: int
    date_written: date
    # The partner's id of the prescription this one renews (answering a renewal request).
    renews: str = ""
    # The request id of the consultation this prescription answers.
    consultation: str = ""


class IntakeError(Exception):
    """The payload is refused; `errors` maps each dotted field path to its messages."""

    def __init__(self, errors: dict[str, list[str]]):
        self.errors = errors
        super().__init__("; ".join(f"{path}: {' '.join(m)}" for path, m in errors.items()))


def _refuse_duplicate_keys(pairs: list[tuple[str, Any]]) -> dict:
    # json.loads would keep the last of two equal keys silently; the partner meant one.
    result: dict = {}
    for key, value in pairs:
        if key in result:
            raise ValueError(f"duplicate key {key!r}")
        result[key] = value
    return result


def _refuse_constant(name: str) -> None:
    raise ValueError(f"{name} is not valid JSON")


def parse_body(body: bytes) -> dict:
    """Decimals stay exact (1.1 is not 1.100000000000000088...) and NaN is refused."""
    try:
        text = body.decode("utf-8")
    except UnicodeDecodeError:
        raise IntakeError({"body": ["The body is not UTF-8."]}) from None
    if not text.strip():
        raise IntakeError({"body": ["The body is empty; send a JSON object."]})
    try:
        payload = json.loads(
            text,
            parse_float=Decimal,
            parse_constant=_refuse_constant,
            object_pairs_hook=_refuse_duplicate_keys,
        )
    except ValueError as exc:  # json.JSONDecodeError is a ValueError
        raise IntakeError({"body": [f"Invalid JSON: {exc}."]}) from None
    except RecursionError:
        raise IntakeError({"body": ["Invalid JSON: nested too deeply."]}) from None
    if not isinstance(payload, dict):
        raise IntakeError({"body": ["The body must be a JSON object."]})
    return payload


_KINDS = (
    (bool, "true/false"),
    (str, "a string"),
    (float | Decimal, "a number with a decimal point"),
    (int, "a number"),
    (list, "an array"),
    (dict, "an object"),
)


# JSON can spell a lone surrogate ("\\ud800"); it is not text and no database stores it.
_SURROGATE = re.compile("[\ud800-\udfff]")


def _kind(value: object) -> str:
    """How a JSON value is named to a partner, e.g. "not a string"; bool before int."""
    return next((name for type_, name in _KINDS if isinstance(value, type_)), "null")


def _leaf(path: str) -> str:
    return path.rpartition(".")[2]


def _years_before(day: date, years: int) -> date:
    try:
        return day.replace(year=day.year - years)
    except ValueError:  # 29 February in a year that has none
        return day.replace(year=day.year - years, day=28)


class _Reader:
    """Reads fields one by one, recording every problem instead of stopping at the first.

    A method returns None when the field is absent or wrong; a missing parent object
    (obj None) is reported once, on the parent, not again for each of its fields.
    """

    def __init__(self) -> None:
        self.errors: dict[str, list[str]] = {}

    def error(self, path: str, message: str) -> None:
        self.errors.setdefault(path, []).append(message)

    def _get(self, obj: dict | None, path: str, required: bool) -> Any:
        if obj is None:
            return None
        value = obj.get(_leaf(path))
        if value is None and required:
            self.error(path, REQUIRED)
        return value

    def section(self, payload: dict, key: str) -> dict | None:
        value = self._get(payload, key, required=True)
        if value is not None and not isinstance(value, dict):
            self.error(key, f"Must be a JSON object, not {_kind(value)}.")
            return None
        return value

    def text(
        self, obj: dict | None, path: str, *, max_length: int, required: bool = True
    ) -> str | None:
        value = self._get(obj, path, required)
        if value is None:
            return None
        if not isinstance(value, str):
            self.error(path, f"Must be a string, not {_kind(value)}.")
            return None
        value = value.strip()
        if "\x00" in value:
            self.error(path, "Must not contain NUL (\\u0000) characters.")
        elif _SURROGATE.search(value):
            self.error(path, "Must not contain unpaired UTF-16 surrogates (\\ud800-\\udfff).")
        elif len(value) > max_length:
            self.error(path, f"Must be at most {max_length} characters (it has {len(value)}).")
        elif required and not value:
            self.error(path, "Must not be blank.")
        else:
            return value
        return None

    def integer(
        self, obj: dict | None, path: str, *, low: int, high: int, required: bool = True
    ) -> int | None:
        value = self._get(obj, path, required)
        if value is None:
            return None
        # bool is an int in Python, and 90.0 is not what a partner means by a count.
        if isinstance(value, bool) or not isinstance(value, int):
            self.error(path, f"Must be a JSON integer, not {_kind(value)}.")
        elif not low <= value <= high:
            self.error(path, f"{_leaf(path)} out of range ({low}-{high}).")
        else:
            return value
        return None

    def decimal(self, obj: dict | None, path: str, *, high: Decimal, places: int) -> Decimal | None:
        value = self._get(obj, path, required=True)
        if value is None:
            return None
        if isinstance(value, bool) or not isinstance(value, int | float | Decimal):
            self.error(path, f"Must be a JSON number such as 1 or 0.5, not {_kind(value)}.")
            return None
        # str() first: Decimal(0.1) would carry the float's binary error.
        number = Decimal(str(value)) if isinstance(value, float) else Decimal(value)
        step = Decimal(1).scaleb(-places)
        if not number.is_finite() or not 0 < number <= high:
            self.error(path, f"{_leaf(path)} out of range (more than 0, at most {high}).")
        elif number != number.quantize(step):
            self.error(path, f"Must have at most {places} decimal places.")
        else:
            return number.quantize(step)
        return None

    def past_date(
        self, obj: dict | None, path: str, today: date, max_years: int, too_old: str
    ) -> date | None:
        """An ISO date neither after `today` nor more than `max_years` before it."""
        value = self._get(obj, path, required=True)
        if value is None:
            return None
        text = value.strip() if isinstance(value, str) else ""
        try:
            day = date.fromisoformat(text) if _ISO_DATE.fullmatch(text) else None
        except ValueError:
            day = None
            self.error(path, f"{text} is not a calendar date.")
        if day is None:
            if path not in self.errors:
                self.error(path, "Must be a date as YYYY-MM-DD (ISO 8601).")
        elif day > today:
            self.error(path, f"{_leaf(path)} is in the future.")
        elif day < _years_before(today, max_years):
            self.error(path, f"{_leaf(path)} is {too_old}")
        else:
            return day
        return None


def _normalise_strength(label: str) -> str:
    return "".join(label.split()).casefold()


def _published_drug(name: str) -> Drug | None:
    drugs = Drug.objects.filter(is_published=True)
    return drugs.filter(slug__iexact=name).first() or drugs.filter(name__iexact=name).first()


def _formulation(r: _Reader, medication: dict | None) -> Formulation | None:
    """The catalog row the partner means; a non-sellable one is returned all the same.

    Intrathecal baclofen is blocked by the pharmacist's checks, which record why with
    the prescription; refusing it here would leave the pharmacy no trace of it.
    """
    name = r.text(medication, "medication.drug", max_length=100)
    form = r.text(medication, "medication.form", max_length=20)
    # Oral solution and intrathecal rows have no strength label: "" selects them.
    strength = r.text(medication, "medication.strength", max_length=50, required=False)
    if medication is not None and medication.get("strength") is None:
        r.error("medication.strength", REQUIRED)
    drug = _published_drug(name) if name else None
    if name and drug is None:
        r.error(
            "medication.drug", f"unknown drug {name!r}: no published drug has that slug or name."
        )
    if form and form.lower() not in DosageForm.values:
        r.error(
            "medication.form",
            f"unknown form {form!r}: expected one of {', '.join(DosageForm.values)}.",
        )
        return None
    if drug is None or not form or strength is None:
        return None
    form = form.lower()
    candidates = list(drug.formulations.filter(form=form))
    if not candidates:
        r.error(
            "medication.form",
            f"unknown strength for {drug.slug} {form}: {drug.slug} does not come as {form}.",
        )
        return None
    wanted = _normalise_strength(strength)
    for formulation in candidates:
        if _normalise_strength(formulation.strength_label) == wanted:
            return formulation
    known = ", ".join(repr(f.strength_label) for f in candidates)
    r.error(
        "medication.strength",
        f"unknown strength for {drug.slug} {form}: {strength!r}; known strengths: {known}.",
    )
    return None


def parse_prescription(payload: dict, *, today: date) -> IntakeData:
    """Every bad field is reported at once, so a partner fixes them in one round trip.

    `today` is the pharmacy's local date, passed in so that the date rules are
    testable. Numeric strings ("90") are refused: a partner whose numbers arrive as
    strings has a serialisation bug that would also bite elsewhere. Unknown keys are
    ignored, so that partners may send more than is read.
    """
    if not isinstance(payload, dict):
        raise IntakeError({"body": [f"The body must be a JSON object, not {_kind(payload)}."]})
    r = _Reader()
    reference = r.text(payload, "prescription_id", max_length=100)

    patient = r.section(payload, "patient")
    email = r.text(patient, "patient.email", max_length=254)
    if email:
        try:
            # The one form addresses are stored and compared in, so that the account
            # it names is found by exact comparison.
            email = canonical_email(email)
        except ValidationError as exc:
            r.error("patient.email", f"Must be a valid email address: {exc.messages[0]}")
    first_name = r.text(patient, "patient.first_name", max_length=150)
    last_name = r.text(patient, "patient.last_name", max_length=150)
    born = r.past_date(patient, "patient.date_of_birth", today, MAX_AGE_YEARS, TOO_OLD_TO_BE_BORN)

    prescriber = r.section(payload, "prescriber")
    prescriber_name = r.text(prescriber, "prescriber.name", max_length=150)
    npi = r.text(prescriber, "prescriber.npi", max_length=50)
    if npi and not _NPI_SHAPE.fullmatch(npi):
        r.error("prescriber.npi", "Must be exactly 10 digits, as a string.")
    elif npi and not npi_is_valid(npi):
        r.error("prescriber.npi", f"{npi} fails the NPI check digit; check for a mistyped digit.")
    license_ = r.text(prescriber, "prescriber.state_license", max_length=50, required=False)

    formulation = _formulation(r, r.section(payload, "medication"))

    directions = r.section(payload, "directions")
    directions_text = r.text(directions, "directions.text", max_length=500)
    # mL for a liquid: the per-dose maximum in mg is the clinical check's, not this bound.
    units_per_dose = r.decimal(directions, "directions.units_per_dose", high=Decimal(100), places=2)
    doses_per_day = r.integer(directions, "directions.doses_per_day", low=1, high=12)

    quantity = r.integer(payload, "quantity", low=1, high=1000)
    refills = r.integer(payload, "refills", low=0, high=11, required=False)
    written = r.past_date(payload, "date_written", today, PRESCRIPTION_VALID_YEARS, EXPIRED)
    renews = r.text(payload, "renews", max_length=100, required=False)
    consultation = r.text(payload, "consultation", max_length=100, required=False)
    if renews and consultation:
        r.error("consultation", "A prescription renews one or answers a consultation, not both.")

    if r.errors:
        raise IntakeError(r.errors)
    return IntakeData(
        partner_reference=reference,
        patient_email=email,
        patient_first_name=first_name,
        patient_last_name=last_name,
        patient_date_of_birth=born,
        prescriber_name=prescriber_name,
        prescriber_npi=npi,
        prescriber_license=license_ or "",
        drug=formulation.drug,
        formulation=formulation,
        directions=directions_text,
        units_per_dose=units_per_dose,
        doses_per_day=doses_per_day,
        quantity=quantity,
        refills=refills or 0,
        date_written=written,
        renews=renews or "",
        consultation=consultation or "",
    )
