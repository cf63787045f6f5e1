"""Development and test tools, kept out of the installed site.

The Stripe stand-in (`python -m devtools.stripe_standin`), the process and nginx helpers
the integration tests and benchmarks start the stack with, the demo data and the
development-only management commands (`seed_demo`, `totp_code`, `run_scheduler`,
`send_example_prescription`). pyproject's package list leaves this folder out, so
`pip install .` does not contain it; settings add the `devtools` app only with DEBUG on
(or TEST_ONLY_DEVTOOLS in the test suite), so production cannot load its commands even
from a checkout that has the folder.
"""
