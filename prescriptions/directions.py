"""Reading a prescription's directions text ("Take 2 tablets four times daily") for the
two numbers the structured fields also hold: units per dose and doses per day.

Only what the text states without doubt is read. Anything ambiguous (two different
quantities, "every 4 to 6 hours", a taper) gives None for that number, so the review
stays silent rather than guess.
"""

import re
from dataclasses import dataclass
from decimal import Decimal

_NUMBER_WORDS = {
    "one": 1,
    "two": 2,
    "three": 3,
    "four": 4,
    "five": 5,
    "six": 6,
    "seven": 7,
    "eight": 8,
    "nine": 9,
    "ten": 10,
    "eleven": 11,
    "twelve": 12,
}
_HALVES = {"half": "0.5", "a half": "0.5", "one half": "0.5", "one-half": "0.5", "½": "0.5"}
_HALVES["one and a half"] = "1.5"
_COUNT = r"\d+|" + "|".join(_NUMBER_WORDS)
_QUANTITY = (
    r"\d+\s+\d+/\d+|\d+/\d+|\d+(?:\.\d+)?|"
    + "|".join(sorted(map(re.escape, _HALVES), key=len, reverse=True))
    + "|"
    + "|".join(_NUMBER_WORDS)
)
_SOLID = r"tablets?|tabs?|capsules?|caps?|pills?"
_LIQUID = r"ml|mls|millilit(?:er|re)s?"
_DAY = r"(?:a|per|each|every|/)?\s*(?:day|daily)\b"

_FREQUENCIES: list[tuple[re.Pattern, object]] = [
    (re.compile(rf"\b(?P<n>{_COUNT})\s*(?:x|times)\s*{_DAY}"), "n"),
    (re.compile(rf"\bonce\s*{_DAY}"), 1),
    (re.compile(rf"\btwice\s*{_DAY}"), 2),
    (re.compile(rf"\bthrice\s*{_DAY}"), 3),
    (re.compile(rf"\bevery\s+(?P<h>{_COUNT})\s*(?:hours?|hrs?|h)\b"), "h"),
    (re.compile(r"\bq\s*(?P<h>\d+)\s*h\b"), "h"),
    (re.compile(r"(?<![a-z])(?:b\.?i\.?d|b\.?d)\.?(?![a-z])"), 2),
    (re.compile(r"(?<![a-z])(?:t\.?i\.?d|t\.?d\.?s)\.?(?![a-z])"), 3),
    (re.compile(r"(?<![a-z])(?:q\.?i\.?d|q\.?d\.?s)\.?(?![a-z])"), 4),
    (re.compile(r"(?<![a-z])q\.?d\.?(?![a-z])"), 1),
]
# What is left of a day after the patterns above took their words: "2 tablets a day"
# may be the daily total, so the quantity is not read as a dose.
_PER_DAY = re.compile(r"\b(?:(?:a|per|each|every)\s+day|daily)\b")
# A regimen that changes or is split is not one dose and one frequency.
_NOT_ONE_REGIMEN = re.compile(r"\b(?:then|divided|increas\w*|decreas\w*|reduc\w*|taper\w*|week \d)")


@dataclass(frozen=True)
class ReadDirections:
    units_per_dose: Decimal | None
    doses_per_day: int | None


def _number(text: str) -> Decimal:
    text = text.strip()
    if text in _HALVES:
        return Decimal(_HALVES[text])
    if text in _NUMBER_WORDS:
        return Decimal(_NUMBER_WORDS[text])
    whole, _, fraction = text.rpartition(" ") if "/" in text and " " in text else ("", "", text)
    if "/" in fraction:
        top, bottom = fraction.split("/")
        value = Decimal(top) / Decimal(bottom) if int(bottom) else Decimal(0)
        return value + (Decimal(whole) if whole else 0)
    return Decimal(text)


def _only(values: set):
    return next(iter(values)) if len(values) == 1 else None


def _blank(text: str, match: re.Match) -> str:
    return text[: match.start()] + " " * (match.end() - match.start()) + text[match.end() :]


def _doses_per_day(text: str) -> tuple[int | None, str]:
    """The doses a day, and the text without the words that said so."""
    found = set()
    for pattern, value in _FREQUENCIES:
        for match in list(pattern.finditer(text)):
            if value == "n":
                found.add(int(_number(match["n"])))
            elif value == "h":
                hours = int(_number(match["h"]))
                if not hours or 24 % hours:
                    return None, text  # every 5 hours: not a whole number a day
                found.add(24 // hours)
            else:
                found.add(value)
            text = _blank(text, match)
    return _only(found), text


def _units_per_dose(text: str, *, liquid: bool) -> Decimal | None:
    unit = _LIQUID if liquid else _SOLID
    pattern = re.compile(
        rf"(?<![\w.])(?P<q>{_QUANTITY})\s*-?\s*(?:of\s+an?\s+)?(?:{unit})(?:\(s\))?(?!\w)"
    )
    found = {_number(m["q"]) for m in pattern.finditer(text)}
    if not liquid:
        # "Take one three times a day": a count right after "take", not a dose in mg.
        bare = re.compile(rf"\btake\s+(?P<q>{_QUANTITY})\b(?!\s*(?:mg|mcg|g|x|times)\b)")
        found |= {_number(m["q"]) for m in bare.finditer(text)}
    return _only(found)


def read_directions(text: str, *, liquid: bool = False) -> ReadDirections:
    """Units per dose and doses per day as the text states them; None where it does not."""
    text = " " + text.lower().replace("\u00a0", " ") + " "
    if _NOT_ONE_REGIMEN.search(text):
        return ReadDirections(None, None)
    doses, rest = _doses_per_day(text)
    units = None if _PER_DAY.search(rest) else _units_per_dose(text, liquid=liquid)
    return ReadDirections(units_per_dose=units, doses_per_day=doses)
