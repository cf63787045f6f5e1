"""What the pages and emails read about the pharmacy.

The footer of every page needs the pharmacy's details and licences, so they are read
once into the cache as plain values (`facts`) and dropped whenever staff save a row
(signals.py): a page costs one cache get for them, and no query once cached. Each
process also keeps what it read for FACTS_RECHECK_SECONDS, so a busy process asks the
cache at most that often; a change shows in every process within that time, and at
once in the one that made it.
"""

import time
from dataclasses import dataclass
from datetime import date

from django.conf import settings
from django.core.cache import cache
from django.forms.models import model_to_dict
from django.urls import reverse
from django.utils import timezone

from pharmacy.us_states import state_name

from .models import PharmacyIdentity, Policy, PolicyKind, StateLicence

FACTS_KEY = "about:facts"
FACTS_SECONDS = 24 * 60 * 60


@dataclass(frozen=True)
class Licence:
    state: str
    state_name: str
    kind: str
    number: str
    expires_on: date


@dataclass(frozen=True)
class PolicyLink:
    title: str
    url: str


@dataclass(frozen=True)
class Facts:
    """The pharmacy as the footer, the contact page and emails show it.

    `identity` is None until staff fill in the pharmacy's details.
    """

    identity: dict | None
    licences: tuple[Licence, ...]
    # Every notice, whether staff have written it yet or not: its page says so.
    policies: tuple[PolicyLink, ...]

    @property
    def name(self) -> str:
        return self.identity["name"] if self.identity else ""

    def current_licences(self, on: date | None = None) -> list[Licence]:
        on = on or timezone.localdate()
        return [licence for licence in self.licences if licence.expires_on >= on]


def _load() -> Facts:
    row = PharmacyIdentity.objects.first()
    identity = None
    if row is not None:
        identity = model_to_dict(row, exclude=["id", "singleton"])
        identity["address_line"] = row.address_line
        identity["opening_hours_lines"] = [
            line.strip() for line in row.opening_hours.splitlines() if line.strip()
        ]
    licences = tuple(
        Licence(
            state=licence.state,
            state_name=licence.state_name,
            kind=licence.get_kind_display(),
            number=licence.licence_number,
            expires_on=licence.expires_on,
        )
        for licence in StateLicence.objects.order_by("state", "kind")
    )
    links = tuple(
        PolicyLink(title=kind.label, url=reverse("about:policy", args=[kind.value]))
        for kind in PolicyKind
    )
    return Facts(identity=identity, licences=licences, policies=links)


# This process's facts, when it read them from the cache, and a number that changes
# whenever the facts it holds do (`facts_version`); replaced whole.
_held: tuple[Facts, float, int] | None = None
_generation = 0


def facts() -> Facts:
    """The cached facts; read from the database on a miss."""
    global _held, _generation
    now = time.monotonic()
    held = _held
    if held is not None and now - held[1] < settings.FACTS_RECHECK_SECONDS:
        return held[0]
    cached = cache.get(FACTS_KEY)
    if cached is None:
        cached = _load()
        cache.set(FACTS_KEY, cached, FACTS_SECONDS)
    if held is not None and held[0] == cached:
        _held = (held[0], now, held[2])
        return held[0]
    _generation += 1
    _held = (cached, now, _generation)
    return cached


def facts_version() -> int:
    """Changes whenever the facts this process shows do: for copies of pages with the
    footer (orders/page_copy.py)."""
    facts()
    return _held[2]


def forget_local_facts() -> None:
    """Drop this process's copy; the next page asks the cache."""
    global _held
    _held = None


def forget_facts() -> None:
    forget_local_facts()
    cache.delete(FACTS_KEY)


def licensed_states(*, on: date | None = None) -> list[tuple[str, str]]:
    """(code, name) of each state the pharmacy holds an unexpired licence for, from the
    database itself: checkout's rule must not rest on a cached copy."""
    codes = (
        StateLicence.objects.current(on)
        .order_by("state")
        .values_list("state", flat=True)
        .distinct()
    )
    return [(code, state_name(code)) for code in codes]


def policy(kind: str) -> Policy | None:
    return Policy.objects.filter(kind=kind).first()


def shipping_refusal(state: str, *, on: date | None = None) -> str | None:
    """Why the pharmacy cannot ship to `state` (a two-letter code), in the words the
    patient reads, or None if it holds an unexpired licence there."""
    allowed = licensed_states(on=on)
    if state in {code for code, _ in allowed}:
        return None
    where = ", ".join(name for _, name in allowed)
    return f"We cannot ship to {state_name(state)}: the pharmacy is not licensed there. " + (
        f"We ship to: {where}." if where else "It cannot ship to any state yet."
    )
