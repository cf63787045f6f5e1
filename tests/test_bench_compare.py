"""bench/compare.py's arithmetic: medians over rounds, the issue's table, the verdicts.

No timing here: the benchmark's figures live in bench/README.md, never in a test.
"""

from bench.compare import oscar_database_url
from bench.compare_figures import PAGES, medians, table, verdicts

# Requests/s of one made-up run, chosen so that every ratio is easy to check by hand.
RPS = {
    "hello": 6000.0,
    "oscar": 120.0,
    "healthz": 4000.0,
    "drug": 3600.0,
    "drug_locmem": 3800.0,
    "drug_signed_in": 1200.0,
    "cart": 1000.0,
    "order": 1400.0,
}


def test_median_of_each_page_over_the_rounds_ignores_one_disturbed_round():
    runs = {"hello": [6000.0, 1500.0, 6200.0], "healthz": [4000.0, 4100.0, 3900.0]}

    assert medians(runs) == {"hello": 6000.0, "healthz": 4000.0}


def test_table_gives_each_page_as_a_multiple_of_hello_oscar_and_healthz():
    lines = table(RPS)

    assert lines[0] == "| page | req/s | x hello | x Oscar | x healthz |"
    rows = {line.split(" | ")[0].lstrip("| "): line for line in lines[2:]}
    assert len(rows) == len(PAGES)
    assert rows["hello (plain Django, no middleware)"].endswith("| 6000 | 1.00 | 50.0 | 1.50 |")
    assert rows["django-oscar 4.2.1 product page"].endswith("| 120 | 0.02 | 1.00 | 0.03 |")
    assert rows["drug page, anonymous, Redis cache"].endswith("| 3600 | 0.60 | 30.0 | 0.90 |")
    assert rows["cart, signed-in patient, Redis"].endswith("| 1000 | 0.17 | 8.33 | 0.25 |")


def test_a_target_exactly_reached_is_met_and_one_just_missed_is_not():
    lines = dict(verdicts(RPS))

    assert lines == {
        "drug page, anonymous, Redis cache: 0.90x /healthz, target >= 0.9x: MET": True,
        "drug page, signed-in patient, Redis: 0.30x /healthz, target >= 0.4x: NOT MET": False,
        "cart, signed-in patient, Redis: 0.25x /healthz, target >= 0.3x: NOT MET": False,
        "order page, signed-in patient, Redis: 0.35x /healthz, target >= 0.3x: MET": True,
    }


def test_oscar_gets_a_database_of_its_own_beside_ours():
    url = "postgres://postgres@127.0.0.1:5432/pharmacy_bench"

    assert oscar_database_url(url) == "postgres://postgres@127.0.0.1:5432/pharmacy_bench_oscar"


def test_with_server_cpu_the_table_and_verdicts_also_show_cpu_per_request():
    cpu_ms = {key: 1.0 for key in RPS} | {"healthz": 0.5, "drug": 0.5, "cart": 2.0}

    rows = table(RPS, cpu_ms)
    lines = [line for line, _ in verdicts(RPS, cpu_ms)]

    assert rows[0].endswith("| x healthz | CPU ms/req |")
    assert rows[-2].startswith("| cart, signed-in patient, Redis | 1000 |")
    assert rows[-2].endswith("| 0.25 | 2.00 |")
    assert lines[0].endswith("MET (by server CPU per request: 1.00x)")
    assert lines[2].endswith("NOT MET (by server CPU per request: 0.25x)")
