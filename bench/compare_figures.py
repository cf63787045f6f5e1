"""What bench/compare.py measures and how it reports it: the pages, issue 18's targets,
and the arithmetic (medians over rounds, the table, the verdicts), unit-tested in
tests/test_bench_compare.py.
"""

import statistics
from dataclasses import dataclass


@dataclass(frozen=True)
class Page:
    key: str
    label: str
    server: str  # hello, oscar, site (Redis) or site_locmem
    path: str = ""  # Oscar's product page and the order page: known once they are made
    patient: str = ""  # signed in as the patient with a box in the "cart", or an "order"


DRUG = "/medicines/baclofen/"  # bench/data.py's drug, loaded by the catalog's migration
PAGES = (
    Page("hello", "hello (plain Django, no middleware)", "hello", "/"),
    Page("oscar", "django-oscar 4.2.1 product page", "oscar"),
    Page("healthz", "our `/healthz`, production settings, Redis", "site", "/healthz"),
    Page("drug", "drug page, anonymous, Redis cache", "site", DRUG),
    Page("drug_locmem", "drug page, anonymous, local-memory cache", "site_locmem", DRUG),
    Page("drug_signed_in", "drug page, signed-in patient, Redis", "site", DRUG, "cart"),
    Page("cart", "cart, signed-in patient, Redis", "site", "/cart/", "cart"),
    Page("order", "order page, signed-in patient, Redis", "site", patient="order"),
)
# Issue 18: (page, its share of /healthz's requests/s at least)
TARGETS = (("drug", 0.9), ("drug_signed_in", 0.4), ("cart", 0.3), ("order", 0.3))


def medians(runs: dict[str, list[float]]) -> dict[str, float]:
    """Each page's median over the rounds (requests/s, CPU ms per request)."""
    return {key: statistics.median(values) for key, values in runs.items()}


def ratio_text(value: float) -> str:
    return f"{value:.2f}" if value < 10 else f"{value:.1f}" if value < 100 else f"{value:.0f}"


def table(
    rps: dict[str, float], cpu_ms: dict[str, float] | None = None, pages: tuple[Page, ...] = PAGES
) -> list[str]:
    """The issue's table: each page's requests/s and its multiple of hello's, Oscar's and
    /healthz's; with `cpu_ms`, a last column of the server's CPU per request."""
    head, rule = (
        "| page | req/s | x hello | x Oscar | x healthz |",
        "| --- | ---: | ---: | ---: | ---: |",
    )
    lines = [head + " CPU ms/req |", rule + " ---: |"] if cpu_ms else [head, rule]
    for page in pages:
        value = rps[page.key]
        ratios = [ratio_text(value / rps[base]) for base in ("hello", "oscar", "healthz")]
        cpu = f" {cpu_ms[page.key]:.2f} |" if cpu_ms else ""
        lines.append(f"| {page.label} | {value:.0f} | {' | '.join(ratios)} |{cpu}")
    return lines


def verdicts(
    rps: dict[str, float], cpu_ms: dict[str, float] | None = None, pages: tuple[Page, ...] = PAGES
) -> list[tuple[str, bool]]:
    """One line per issue-18 target, and whether it is met (by requests/s, as the issue
    says); with `cpu_ms`, also the share that /healthz's CPU per request gives."""
    labels = {page.key: page.label for page in pages}
    out = []
    for key, target in TARGETS:
        share = rps[key] / rps["healthz"]
        met = share >= target
        text = f"{labels[key]}: {share:.2f}x /healthz, target >= {target}x: "
        text += "MET" if met else "NOT MET"
        if cpu_ms:
            text += f" (by server CPU per request: {cpu_ms['healthz'] / cpu_ms[key]:.2f}x)"
        out.append((text, met))
    return out
