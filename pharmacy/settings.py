"""Settings for every environment.

Every difference between development, tests and production is an environment
variable (see README "Configuration"). Without any, the site runs on embedded
defaults: SQLite, tasks run in-process, local-memory cache, console email.
With DEBUG off it refuses to start without the secrets production needs.
"""

from pathlib import Path

import environ
from django.core.exceptions import ImproperlyConfigured

BASE_DIR = Path(__file__).resolve().parent.parent

env = environ.Env()

DEBUG = env.bool("DEBUG", default=False)
SITE_NAME = env.str("SITE_NAME", default="Northside Pharmacy")
# The public address of the site, for links in emails.
SITE_URL = env.str("SITE_URL", default="http://127.0.0.1:8000")

SECRET_KEY = env.str("SECRET_KEY", default="")
if not SECRET_KEY:
    if not DEBUG:
        raise ImproperlyConfigured("SECRET_KEY must be set when DEBUG is off.")
    SECRET_KEY = "development-only-insecure-key"  # noqa: S105

ALLOWED_HOSTS = env.list("ALLOWED_HOSTS", default=[])
if not ALLOWED_HOSTS:
    if not DEBUG:
        raise ImproperlyConfigured("ALLOWED_HOSTS must be set when DEBUG is off.")
    ALLOWED_HOSTS = ["localhost", "127.0.0.1", "[::1]"]
CSRF_TRUSTED_ORIGINS = env.list("CSRF_TRUSTED_ORIGINS", default=[])

INSTALLED_APPS = [
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "whitenoise.runserver_nostatic",
    "django.contrib.staticfiles",
    "django.contrib.humanize",
    # Trigram search (pg_trgm) for names in the admin; nothing on SQLite.
    "django.contrib.postgres",
    "simple_history",
    "csp",
    "allauth",
    "allauth.account",
    "allauth.mfa",
    "accounts",
    "catalog",
    "about",
    "prescriptions",
    "orders",
    "dispensing",
]
# The development tools (devtools/: demo data, dev-only commands, the scheduler of `make
# run`) are not part of an installed site and load only in development, or in the test
# suite with its own switch, never in production even from a checkout that has them.
DEVTOOLS_ENABLED = DEBUG or env.bool("TEST_ONLY_DEVTOOLS", default=False)
if DEVTOOLS_ENABLED:
    INSTALLED_APPS.append("devtools")

MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    "csp.middleware.CSPMiddleware",
    # Above the anonymous copies, so that they carry the header like every page.
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    # A visitor without cookies gets a catalog page this process already served from its
    # own copy, without the session, CSRF, auth and messages middleware below.
    "catalog.middleware.AnonymousCopyMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "pharmacy.middleware.PrivatePagesMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    # Django's, reading the signed-in user from the cache (accounts/user_cache.py).
    "accounts.middleware.AuthenticationMiddleware",
    "allauth.account.middleware.AccountMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "accounts.middleware.StaffSessionMiddleware",
    "simple_history.middleware.HistoryRequestMiddleware",
]
if DEBUG:
    # Development shows the site's own 404 page, as production does, instead of
    # Django's technical one (still there with ?technical-404).
    MIDDLEWARE.append("pharmacy.middleware.SiteNotFoundPageMiddleware")

ROOT_URLCONF = "pharmacy.urls"
WSGI_APPLICATION = "pharmacy.wsgi.application"

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [BASE_DIR / "templates"],
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
                "pharmacy.context_processors.site",
            ],
            # `{% url %}` working out each address once per process, not on every render.
            "builtins": ["pharmacy.url_tag"],
        },
    },
]

# Database: SQLite unless DATABASE_URL names another (PostgreSQL in production).
DATABASE_URL = env.str("DATABASE_URL", default="") or f"sqlite:///{BASE_DIR / 'db.sqlite3'}"
DATABASES = {"default": env.db_url_config(DATABASE_URL)}
DATABASES["default"]["CONN_MAX_AGE"] = env.int("CONN_MAX_AGE", default=60)
DATABASES["default"]["CONN_HEALTH_CHECKS"] = True
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

# Redis, when configured, is the cache, the Celery broker and its result backend.
REDIS_URL = env.str("REDIS_URL", default="")
if REDIS_URL:
    CACHES = {
        "default": {
            # Django's, reusing one redis-py client instead of building one per call.
            "BACKEND": "pharmacy.cache.RedisCache",
            # Best another Redis database than the broker's, so clearing the cache can
            # never drop queued tasks.
            "LOCATION": env.str("CACHE_URL", default="") or REDIS_URL,
            "KEY_PREFIX": env.str("CACHE_KEY_PREFIX", default="pharmacy"),
        }
    }
    # Sessions are read from Redis and written through to the database, so a signed-in
    # page costs no session query; logout deletes both. Django's `cached_db`, reading the
    # session and the user's copy in one round trip (accounts/sessions.py).
    SESSION_ENGINE = "accounts.sessions"
else:
    # Local memory is per process, so sessions stay in the database alone: a logout
    # must end the session for every process at once.
    CACHES = {"default": {"BACKEND": "django.core.cache.backends.locmem.LocMemCache"}}

AUTH_USER_MODEL = "accounts.User"
# A signed-in request reads its user from a copy in the cache, dropped when the row is
# saved (accounts/user_cache.py); only with Redis, which every process shares.
USER_CACHE_SECONDS = env.int("USER_CACHE_SECONDS", default=60 if REDIS_URL else 0)
# Each process keeps the cart and order pages it rendered for a patient while nothing
# they show changed (orders/page_copy.py), at most this long; only with Redis, which
# holds the tokens every process checks.
USER_PAGE_COPY_SECONDS = env.int("USER_PAGE_COPY_SECONDS", default=60 if REDIS_URL else 0)
AUTHENTICATION_BACKENDS = [
    "django.contrib.auth.backends.ModelBackend",
    "allauth.account.auth_backends.AuthenticationBackend",
]
AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator"},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
]
LOGIN_URL = "account_login"
LOGIN_REDIRECT_URL = "accounts:overview"

# Accounts (django-allauth): email only, verified before first sign-in.
ACCOUNT_LOGIN_METHODS = {"email"}
ACCOUNT_SIGNUP_FIELDS = ["email*", "password1*", "password2*"]
ACCOUNT_USER_MODEL_USERNAME_FIELD = None
ACCOUNT_UNIQUE_EMAIL = True
ACCOUNT_EMAIL_VERIFICATION = "mandatory"
ACCOUNT_LOGIN_ON_EMAIL_CONFIRMATION = True
ACCOUNT_SIGNUP_FORM_CLASS = "accounts.forms.SignupForm"
ACCOUNT_ADAPTER = "pharmacy.account_adapter.AccountAdapter"
ACCOUNT_LOGOUT_REDIRECT_URL = "catalog:drug_list"
ACCOUNT_EMAIL_SUBJECT_PREFIX = ""
ACCOUNT_FORMS = {
    "login": "accounts.account_forms.PatientLoginForm",
    "signup": "accounts.account_forms.PatientSignupForm",
}
# Addresses at reserved names (.test, .invalid) can never receive mail: refused unless
# a test or development setup allows them.
ALLOW_TEST_EMAIL_DOMAINS = env.bool("ALLOW_TEST_EMAIL_DOMAINS", default=False)
# Failed sign-ins: at most 5 per account in 5 minutes and 10 a minute per address;
# any more are refused with a message. Floods of requests get HTTP 429.
ACCOUNT_RATE_LIMITS = {"login_failed": "10/m/ip,5/5m/key", "login": "30/m/ip"}
# Behind a proxy, the number of proxies that append to X-Forwarded-For (nginx: 1).
ALLAUTH_TRUSTED_PROXY_COUNT = env.int("TRUSTED_PROXY_COUNT", default=0)
MFA_SUPPORTED_TYPES = ["totp", "recovery_codes"]
# Staff cannot remove their last authenticator (accounts/mfa_adapter.py).
MFA_ADAPTER = "accounts.mfa_adapter.MFAAdapter"
MFA_TOTP_ISSUER = SITE_NAME
# Staff (pharmacists, catalog staff) are signed out after this long without a request.
STAFF_IDLE_TIMEOUT_SECONDS = env.int("STAFF_IDLE_TIMEOUT_MINUTES", default=30) * 60

# History pages show old versions and never write one back (pharmacy/admin.py also
# refuses the POST; this setting hides the button and the "revert" wording).
SIMPLE_HISTORY_REVERT_DISABLED = True

LANGUAGE_CODE = "en-us"
TIME_ZONE = env.str("TIME_ZONE", default="America/New_York")
USE_I18N = True
USE_TZ = True

STATIC_URL = "static/"
STATIC_ROOT = env.path("STATIC_ROOT", default=BASE_DIR / "staticfiles")
STATICFILES_DIRS = [BASE_DIR / "static"]
# Prescription documents: never under STATIC_ROOT or any URL; served by a checked view.
PRIVATE_MEDIA_ROOT = env.path("PRIVATE_MEDIA_ROOT", default=BASE_DIR / "private_media")

STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {
        "BACKEND": (
            "django.contrib.staticfiles.storage.StaticFilesStorage"
            if DEBUG
            else "whitenoise.storage.CompressedManifestStaticFilesStorage"
        )
    },
}

# Email: console unless EMAIL_URL says otherwise (e.g. smtp+tls://user:pass@host:587).
vars().update(env.email_url("EMAIL_URL", default="consolemail://"))
# Emails to patients take the pharmacy's name and sender address from its details in
# the admin (about.emails.sender); these are the fallback, and what mail_admins and
# error reports use, in the site's name.
DEFAULT_FROM_EMAIL = env.str("DEFAULT_FROM_EMAIL", default=f"{SITE_NAME} <no-reply@localhost>")
SERVER_EMAIL = env.str("SERVER_EMAIL", default=DEFAULT_FROM_EMAIL)
EMAIL_SUBJECT_PREFIX = env.str("EMAIL_SUBJECT_PREFIX", default=f"[{SITE_NAME}] ")
# Who gets operational email (payment reconciliation, errors): "Name <a@b>,Other <c@d>".
ADMINS = [
    (address.split("<")[0].strip() or address, address.split("<")[-1].rstrip(">").strip())
    for address in env.list("ADMINS", default=[])
]

# HTTPS: on whenever DEBUG is off. HTTPS=off exists only for tests that talk plain
# HTTP to a production-configured site (the test client, the browser journey).
HTTPS = env.bool("HTTPS", default=not DEBUG)
ACCOUNT_DEFAULT_HTTP_PROTOCOL = "https" if HTTPS else "http"
if HTTPS:
    SECURE_SSL_REDIRECT = True
    SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")
    SESSION_COOKIE_SECURE = True
    CSRF_COOKIE_SECURE = True
    SECURE_HSTS_SECONDS = env.int("SECURE_HSTS_SECONDS", default=60 * 60 * 24 * 365)
    SECURE_HSTS_INCLUDE_SUBDOMAINS = True
    SECURE_HSTS_PRELOAD = env.bool("SECURE_HSTS_PRELOAD", default=True)
SESSION_COOKIE_HTTPONLY = True
SECURE_CONTENT_TYPE_NOSNIFF = True
SECURE_REFERRER_POLICY = "same-origin"
X_FRAME_OPTIONS = "DENY"

# Celery: with REDIS_URL a separate worker runs the tasks; without it they run
# in-process, synchronously, which is all the embedded default needs.
CELERY_BROKER_URL = REDIS_URL or "memory://"
# Kombu's Redis transport with one redis-py client reused per connection pool instead of
# one built per publish and acknowledgement (pharmacy/broker.py). `rediss://` keeps
# kombu's own, which sets its TLS defaults by that scheme.
if CELERY_BROKER_URL.startswith("redis://"):
    CELERY_BROKER_TRANSPORT = "pharmacy.broker:Transport"
CELERY_RESULT_BACKEND = REDIS_URL or "cache+memory://"
CELERY_TASK_ALWAYS_EAGER = env.bool("CELERY_TASK_ALWAYS_EAGER", default=not REDIS_URL)
CELERY_TASK_EAGER_PROPAGATES = True
CELERY_ACCEPT_CONTENT = ["json"]
CELERY_TASK_SERIALIZER = "json"
CELERY_RESULT_SERIALIZER = "json"
# A process that sends a task first subscribes to its result (Redis pub/sub), and Celery
# retries that for 20 s by default when Redis is down: a web request that enqueues (a
# Stripe webhook) would hang past Stripe's timeout, and a few of them would hold every
# gunicorn thread. Give up as fast as the publish itself does; work whose task could not
# be sent is stored and sent again by the sweeps.
CELERY_RESULT_BACKEND_TRANSPORT_OPTIONS = {
    "retry_policy": {
        "max_retries": 3,
        "interval_start": 0,
        "interval_step": 0.2,
        "interval_max": 0.2,
    }
}
# Nothing reads a task's return value: services queue follow-up work and record what
# happened in the database (payment events, notifications, shipments). Storing every
# result in Redis (a SET and a PUBLISH per task) and subscribing to it at each send cost
# the worker and the web processes for nothing. A task whose caller waits for its result
# says so with `ignore_result=False`; eager tasks (the embedded set-up, the unit tests)
# keep their value either way.
CELERY_TASK_IGNORE_RESULT = True
CELERY_TASK_ACKS_LATE = True
# How many tasks share a worker's database connection before Celery's Django fixup
# closes it (unset: a new connection for every task). Its age (CONN_MAX_AGE), errors
# and health are checked at each task's start and end (pharmacy/celery.py).
CELERY_DB_REUSE_MAX = env.int("CELERY_DB_REUSE_MAX", default=1000)
CELERY_TASK_REJECT_ON_WORKER_LOST = True
CELERY_WORKER_PREFETCH_MULTIPLIER = 1
CELERY_BROKER_TRANSPORT_OPTIONS = {
    "visibility_timeout": env.int("CELERY_VISIBILITY_TIMEOUT", default=3600)
}
CELERY_TASK_TIME_LIMIT = env.int("CELERY_TASK_TIME_LIMIT", default=300)
# The soft limit gives a task 30 s to clean up before the hard one, or half its time when
# the limit is short: at or below zero it would be no soft limit at all, or one that fires
# at once and moves the hard limit out to 30 s, past a short visibility timeout.
CELERY_TASK_SOFT_TIME_LIMIT = max(CELERY_TASK_TIME_LIMIT - 30, CELERY_TASK_TIME_LIMIT / 2)
CELERY_TIMEZONE = TIME_ZONE
# Payment confirmations have their own queue, listed first by the workers
# (`celery worker -Q payments,celery`), so they never wait behind dispatches and emails.
# Task names are stable and listed in orders/task_names.py; the payment sweeps go with
# the payment tasks.
CELERY_TASK_ROUTES = {
    "orders.payments.*": {"queue": "payments"},
    "orders.sweeps.retry_unprocessed_events": {"queue": "payments"},
    "orders.sweeps.reconcile_payments": {"queue": "payments"},
    "orders.sweeps.settle_authorised_orders": {"queue": "payments"},
}
CELERY_BEAT_SCHEDULE = {
    "expire-unpaid-orders": {"task": "orders.sweeps.expire_unpaid_orders", "schedule": 300},
    "refresh-shipments": {"task": "orders.shipping.refresh_shipments", "schedule": 60},
    "send-refill-reminders": {
        "task": "orders.notifications.send_refill_reminders",
        "schedule": 86400,
    },
    "retry-payment-events": {"task": "orders.sweeps.retry_unprocessed_events", "schedule": 60},
    "resume-lost-work": {"task": "orders.sweeps.resume_lost_work", "schedule": 120},
    "reconcile-payments": {"task": "orders.sweeps.reconcile_payments", "schedule": 86400},
    "settle-authorised-orders": {
        "task": "orders.sweeps.settle_authorised_orders",
        "schedule": 300,
    },
    # Lots past their expiry date come off the sellable stock (dispensing/services/stock.py).
    "expire-lots": {"task": "dispensing.stock.expire_lots", "schedule": 3600},
    "run-auto-refills": {"task": "orders.autorefill.run_auto_refills", "schedule": 3600},
    "deliver-partner-requests": {
        "task": "prescriptions.tasks.deliver_due_partner_requests",
        "schedule": 60,
    },
}

# Orders: an order not paid within this many minutes is cancelled and its stock
# released (Stripe's Checkout Session expires with it; Stripe's minimum is 30).
ORDER_PAYMENT_MINUTES = env.int("ORDER_PAYMENT_MINUTES", default=31)
# An order authorised at checkout against a prescription still with the pharmacist is
# cancelled (the hold on the card released) if none is verified within this many hours.
ORDER_VERIFICATION_HOURS = env.int("ORDER_VERIFICATION_HOURS", default=72)
# Tasks queued by name, with the prescription's id, after a pharmacist verifies,
# rejects or asks for more information: the prescriptions app knows no orders.
PRESCRIPTION_DECISION_TASKS = ["orders.payments.prescription_decided"]
# Tasks queued by name, with the prescription's id, when a prescription reaches a
# patient's account with its drug known (sent, uploaded, attached, or its drug read by
# the pharmacist): an order waiting for it to arrive from the prescriber is matched there.
PRESCRIPTION_ARRIVAL_TASKS = ["orders.payments.prescription_arrived"]
# A verified prescription may be renewed from this many days before it expires (and
# once its units no longer cover a package, or after it expired).
RENEWAL_DAYS_BEFORE_EXPIRY = env.int("RENEWAL_DAYS_BEFORE_EXPIRY", default=30)

# Stripe. In development and tests STRIPE_API_BASE points the real stripe client at
# the local stand-in (devtools/stripe_standin); see README "Payments".
STRIPE_SECRET_KEY = env.str("STRIPE_SECRET_KEY", default="")
STRIPE_WEBHOOK_SECRET = env.str("STRIPE_WEBHOOK_SECRET", default="")
STRIPE_API_BASE = env.str("STRIPE_API_BASE", default="")
STRIPE_MAX_NETWORK_RETRIES = env.int("STRIPE_MAX_NETWORK_RETRIES", default=2)
# Test-only: lets a DEBUG-off site (the browser journey) talk to the stand-in.
# `check --deploy` fails while it is set, so production cannot run with it.
STRIPE_STANDIN_ALLOWED = env.bool("TEST_ONLY_ALLOW_STRIPE_STANDIN", default=DEBUG)
if STRIPE_API_BASE and not STRIPE_STANDIN_ALLOWED:
    raise ImproperlyConfigured(
        "STRIPE_API_BASE (the local Stripe stand-in) is refused when DEBUG is off."
    )
if not DEBUG and not (STRIPE_SECRET_KEY and STRIPE_WEBHOOK_SECRET):
    raise ImproperlyConfigured(
        "STRIPE_SECRET_KEY and STRIPE_WEBHOOK_SECRET must be set when DEBUG is off."
    )
# The Makefile's development values are public: with them anyone could sign webhooks.
_PUBLIC_STRIPE_VALUES = {"sk_test_local", "whsec_local_development"}
if not DEBUG and {STRIPE_SECRET_KEY, STRIPE_WEBHOOK_SECRET} & _PUBLIC_STRIPE_VALUES:
    raise ImproperlyConfigured(
        "STRIPE_SECRET_KEY and STRIPE_WEBHOOK_SECRET are refused when DEBUG is off while they "
        "are the public development values from the Makefile."
    )

# Delivery (orders/couriers/): COURIER_BACKEND books new parcels; COURIERS lists every
# backend whose parcels may still be on their way, each tracked by the carrier that
# booked it. Keep a backend listed until its last parcel is delivered.
COURIER_BACKEND = env.str("COURIER_BACKEND", default="orders.couriers.LocalCourier")
COURIERS = env.list("COURIERS", default=["orders.couriers.LocalCourier"])
LOCAL_COURIER_DELIVERY_MINUTES = env.int("LOCAL_COURIER_DELIVERY_MINUTES", default=10)
# The drug-neutral review (prescriptions/review.py): a medical profile not confirmed
# by its patient within this many days stops ordering until they confirm it.
PROFILE_CONFIRM_DAYS = env.int("PROFILE_CONFIRM_DAYS", default=180)
# An order of a drug placed before this share of the previous supply is used up is an
# early refill: refused at checkout unless a pharmacist allowed it. 0 turns it off.
REFILL_TOO_EARLY_SHARE = env.str("REFILL_TOO_EARLY_SHARE", default="0.75")
# A prescription whose units last longer than this at its directions is flagged.
MAX_DAYS_SUPPLY = env.int("MAX_DAYS_SUPPLY", default=365)
# Refill reminders go this many days before a patient's supply runs out.
REFILL_REMINDER_DAYS_BEFORE = env.int("REFILL_REMINDER_DAYS_BEFORE", default=7)
# Auto-refill: the order is placed (and the saved card charged) this many days before the
# supply runs out, so that it arrives in time; the patient is emailed AUTO_REFILL_NOTICE_DAYS
# before that (skip or change); an auto-refill order whose card is refused stays payable
# for AUTO_REFILL_PAYMENT_HOURS.
AUTO_REFILL_DAYS_BEFORE_RUN_OUT = env.int("AUTO_REFILL_DAYS_BEFORE_RUN_OUT", default=5)
AUTO_REFILL_NOTICE_DAYS = env.int("AUTO_REFILL_NOTICE_DAYS", default=3)
AUTO_REFILL_PAYMENT_HOURS = env.int("AUTO_REFILL_PAYMENT_HOURS", default=72)
# Prescription files one account may send to be checked per hour (each check costs a
# child process up to 10 s of CPU); four prescriptions of five files.
PRESCRIPTION_UPLOADS_PER_HOUR = env.int("PRESCRIPTION_UPLOADS_PER_HOUR", default=20)

# Content-Security-Policy on every response (django-csp): the site's own files only,
# no inline script or style. Forms may also lead to Stripe's hosted payment page
# (the checkout's redirect counts as the form's target).
_STRIPE_CHECKOUT_ORIGINS = ["https://checkout.stripe.com"]
if STRIPE_API_BASE:
    _STRIPE_CHECKOUT_ORIGINS.append(STRIPE_API_BASE.rstrip("/"))
CONTENT_SECURITY_POLICY = {
    "DIRECTIVES": {
        "default-src": ["'self'"],
        "script-src": ["'self'"],
        "style-src": ["'self'"],
        "img-src": ["'self'", "data:"],
        "font-src": ["'self'"],
        "connect-src": ["'self'"],
        "frame-src": ["'self'"],
        "frame-ancestors": ["'self'"],
        "object-src": ["'none'"],
        "base-uri": ["'self'"],
        "form-action": ["'self'", *_STRIPE_CHECKOUT_ORIGINS],
    }
}

# Catalog pages are cached; any staff edit invalidates them (catalog/signals.py).
CATALOG_PAGE_CACHE_SECONDS = env.int("CATALOG_PAGE_CACHE_SECONDS", default=60 * 60)
# Each process keeps its own copy of the cached pages and asks the shared cache at most
# this often whether any process changed the catalog since: an edit shows everywhere
# within this many seconds (at once in the process that made it).
CATALOG_PAGE_RECHECK_SECONDS = env.float("CATALOG_PAGE_RECHECK_SECONDS", default=0.5)
# The same for the delivery options every cart lists (orders/shipping_copy.py), and for
# the pharmacy's details in the footer of every other page (about/selectors.py).
SHIPPING_OPTIONS_RECHECK_SECONDS = env.float("SHIPPING_OPTIONS_RECHECK_SECONDS", default=0.5)
FACTS_RECHECK_SECONDS = env.float("FACTS_RECHECK_SECONDS", default=0.5)

LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "handlers": {"console": {"class": "logging.StreamHandler"}},
    "root": {"handlers": ["console"], "level": env.str("LOG_LEVEL", default="INFO")},
}
