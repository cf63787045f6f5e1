#!/usr/bin/env python
"""Sign-up time for an address that has an account against one that has none.

With enumeration prevention the two answers look the same; their time must too, or
a stopwatch lists the pharmacy's customers. Runs the site in-process (DEBUG off, the
production password hasher, console email) on a throw-away SQLite database and posts
ROUNDS sign-ups of each kind, alternating, then prints the median and p90 of each.
Target: medians within 20% of each other.

    .venv/bin/python bench/signup.py            # ROUNDS=20 by default
    BENCH_TMP=/dev/shm .venv/bin/python bench/signup.py   # database in memory
"""

import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
ROUNDS = int(os.environ.get("ROUNDS", "20"))


def main() -> int:
    sys.path.insert(0, str(ROOT))
    folder = tempfile.mkdtemp(prefix="bench-signup-", dir=os.environ.get("BENCH_TMP"))
    os.environ.update(
        DJANGO_SETTINGS_MODULE="pharmacy.settings",
        DATABASE_URL=f"sqlite:///{folder}/db.sqlite3",
        SECRET_KEY="bench-only-not-secret",
        ALLOWED_HOSTS="testserver",
        HTTPS="off",
        DEBUG="0",
        EMAIL_URL="consolemail://",
        STRIPE_SECRET_KEY="sk_test_bench_only",
        STRIPE_WEBHOOK_SECRET="whsec_bench_only",
    )
    os.environ.pop("REDIS_URL", None)
    import django

    django.setup()
    from django.core.management import call_command
    from django.test import Client, override_settings

    call_command("migrate", verbosity=0)
    password = "a-long-bench-password-1"

    def sign_up(email: str) -> float:
        started = time.perf_counter()
        response = Client().post(
            "/accounts/signup/",
            {
                "first_name": "Bench",
                "last_name": "Patient",
                "email": email,
                "password1": password,
                "password2": password,
            },
        )
        elapsed = time.perf_counter() - started
        assert response.status_code == 302, response.status_code
        return elapsed * 1000

    times: dict[str, list[float]] = {"known address": [], "new address": []}
    with override_settings(ACCOUNT_RATE_LIMITS=False), open(os.devnull, "w") as quiet:
        stdout, sys.stdout = sys.stdout, quiet  # the console backend prints every mail
        try:
            sign_up("known@example.com")
            for n in range(ROUNDS):
                times["known address"].append(sign_up("known@example.com"))
                times["new address"].append(sign_up(f"new-{n}@example.com"))
        finally:
            sys.stdout = stdout
    print(f"{'sign-up':<14} {'median ms':>10} {'p90 ms':>8}")
    for name, values in times.items():
        p90 = statistics.quantiles(values, n=10)[-1]
        print(f"{name:<14} {statistics.median(values):>10.1f} {p90:>8.1f}")
    known, new = (statistics.median(v) for v in times.values())
    ratio = known / new
    print(f"known / new: {ratio:.2f} (target 0.80-1.20)")
    return 0 if 0.8 <= ratio <= 1.2 else 1


if __name__ == "__main__":
    sys.exit(main())
