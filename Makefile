# The two commands of the README: `make run` and `make test`.
PYTHON ?= $(shell command -v python3.11 || command -v python3)
VENV := .venv
BIN := $(VENV)/bin
PORT ?= 8000
STRIPE_STANDIN_PORT ?= 12111
PARTNER_STANDIN_PORT ?= 12112
# The embedded default: SQLite, tasks in-process, the local Stripe stand-in, the local
# courier, console email. DEBUG is on: this is for a developer's machine only.
RUN_ENV := env -u DATABASE_URL -u REDIS_URL DEBUG=1 SITE_URL=http://127.0.0.1:$(PORT) \
	STRIPE_SECRET_KEY=sk_test_local STRIPE_WEBHOOK_SECRET=whsec_local_development \
	STRIPE_API_BASE=http://127.0.0.1:$(STRIPE_STANDIN_PORT)

.PHONY: install run test test-quick lint lint-imports format system-packages

$(BIN)/.installed: pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --disable-pip-version-check -e ".[dev]"
	touch $@

install: $(BIN)/.installed

# Serves the site, the Stripe stand-in and the periodic tasks until Ctrl-C.
run: install
	$(RUN_ENV) $(BIN)/python manage.py migrate --noinput
	$(RUN_ENV) $(BIN)/python manage.py seed_demo --url http://127.0.0.1:$(PORT)
	@echo "Stripe stand-in (test payments): http://127.0.0.1:$(STRIPE_STANDIN_PORT)/"
	@echo "Partner stand-in (a telemedicine clinician): http://127.0.0.1:$(PARTNER_STANDIN_PORT)/"
	@trap 'kill 0' INT TERM EXIT; \
	$(RUN_ENV) $(BIN)/python -m devtools.stripe_standin --port $(STRIPE_STANDIN_PORT) \
		--webhook-url http://127.0.0.1:$(PORT)/payments/stripe/webhook/ \
		--webhook-secret whsec_local_development & \
	$(RUN_ENV) $(BIN)/python manage.py run_scheduler & \
	$(RUN_ENV) $(BIN)/python manage.py partner_standin --port $(PARTNER_STANDIN_PORT) & \
	$(RUN_ENV) $(BIN)/python manage.py runserver 127.0.0.1:$(PORT)

# Both cores: two pytest-xdist workers, each with its own test database, Redis databases
# and static folder (tests/parallel.py). The `outage` tests stop the shared PostgreSQL
# and Redis, so they run on their own afterwards (exit 5: PYTEST_ARGS selected none).
WORKERS ?= 2
XDIST := -n $(WORKERS) --dist loadgroup

# Everything, as CI runs it.
test: install system-packages
	$(BIN)/pytest $(XDIST) -m "not outage" $(PYTEST_ARGS)
	$(BIN)/pytest -m outage $(PYTEST_ARGS) || [ $$? -eq 5 ]

# A quick local run: no fuzzing, nothing slow, no browser (CI runs them all).
test-quick: install
	$(BIN)/pytest $(XDIST) -m "not fuzz and not slow and not e2e" $(PYTEST_ARGS)

# The browser tests drive Debian's Chromium (Playwright cannot download browsers here);
# the nginx tests run deploy/nginx/'s locations in front of three gunicorn pools.
SYSTEM_PACKAGES := chromium:/usr/bin/chromium nginx-light:/usr/sbin/nginx
system-packages:
	@for entry in $(SYSTEM_PACKAGES); do \
		package=$${entry%%:*}; binary=$${entry#*:}; \
		if [ ! -x $$binary ]; then \
			if [ "$$(id -u)" = 0 ]; then apt-get install -y -q $$package >/dev/null 2>&1 \
				|| (apt-get update -q >/dev/null && apt-get install -y -q $$package >/dev/null); \
			else echo "Some tests need Debian's $$package: sudo apt-get install $$package"; fi; \
		fi; \
	done

lint: install
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(MAKE) --no-print-directory lint-imports

# The layers of pyproject.toml's [tool.importlinter] (README "Layers"); about a second,
# so no cache is kept.
lint-imports: install
	$(BIN)/lint-imports --no-cache

format: install
	$(BIN)/ruff format .
	$(BIN)/ruff check --fix .
