"""The two projects bench/compare.py measures our site against, built from nothing.

- "hello": plain Django, one view returning 10 KB, no middleware, no apps, no database:
  what a Django request costs at the least under the same gunicorn.
- "frobshop": django-oscar 4.2.1 set up as Oscar's "Building your own shop"
  (docs/source/internals/getting_started.rst) says, on PostgreSQL, with one product,
  so that its product page renders as a shop's would.

Both run from a virtual environment of their own (`build_venv`) with every package
pinned, so the comparison does not depend on this project's dependencies.
"""

import hashlib
import shutil
import subprocess
import sys
from pathlib import Path
from urllib.parse import unquote, urlsplit

# What pip resolved for `django-oscar[sorl-thumbnail]==4.2.1` on Python 3.11 (2026-12-04),
# with Django, gunicorn and psycopg2 at the versions this project runs, so the three
# sites differ only in their own code. Installed with --no-deps and checked by `pip check`.
OSCAR_PINS = (
    "django-oscar==4.2.1",
    "sorl-thumbnail==12.11.0",
    "Django==5.2.19",
    "asgiref==3.13.0",
    "sqlparse==0.6.1",
    "gunicorn==27.0.1",
    "packaging==26.4",
    "psycopg2-binary==2.9.13",
    "babel==2.19.0",
    "django-extra-views==0.16.0",
    "django-haystack==3.4.0",
    "django-phonenumber-field==8.5.0",
    "phonenumbers==9.0.43",
    "django-tables2==2.7.0",
    "django-treebeard==7.0.3",
    "django-widget-tweaks==1.5.1",
    "factory_boy==3.3.3",
    "Faker==40.63.0",
    "pillow==13.0.0",
    "purl==1.6",
    "six==1.17.0",
)


def build_venv(venv: Path, pins: tuple[str, ...] = OSCAR_PINS) -> str:
    """The venv's python, (re)built when the pins changed since it was last built."""
    python = venv / "bin" / "python"
    stamp = venv / "bench-pins.sha256"
    wanted = hashlib.sha256("\n".join(pins).encode()).hexdigest()
    if python.exists() and stamp.exists() and stamp.read_text() == wanted:
        return str(python)
    shutil.rmtree(venv, ignore_errors=True)
    print(f"building {venv} (django-oscar and its pinned dependencies)...", flush=True)
    subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True)
    for args in (["install", "-q", "--no-deps", *pins], ["check"]):
        done = subprocess.run(
            [str(python), "-m", "pip", *args], capture_output=True, text=True, check=False
        )
        if done.returncode:
            sys.exit(f"pip {args[0]} failed in {venv}:\n{done.stdout}\n{done.stderr}")
    stamp.write_text(wanted)
    return str(python)


HELLO_SETTINGS = '''\
"""Plain Django: one view returning 10 KB; no middleware, no apps, no database."""

import os

from django.http import HttpResponse
from django.urls import path

SECRET_KEY = os.environ["SECRET_KEY"]
DEBUG = False
ALLOWED_HOSTS = ["127.0.0.1", "localhost"]
ROOT_URLCONF = "hello"
MIDDLEWARE = []
INSTALLED_APPS = []

BODY = ("Hello, world!\\n" * 800).encode()[:10240]


def hello(request):
    return HttpResponse(BODY, content_type="text/plain")


urlpatterns = [path("", hello)]
'''

HELLO_WSGI = """\
import os

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "hello")

from django.core.wsgi import get_wsgi_application

application = get_wsgi_application()
"""


def write_hello(folder: Path) -> None:
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "hello.py").write_text(HELLO_SETTINGS)
    (folder / "wsgi.py").write_text(HELLO_WSGI)


# Appended to the settings.py of `django-admin startproject frobshop`: the changes the
# guide makes, in its order, then what running it as a benchmark needs.
OSCAR_SETTINGS = """

# --- Oscar's "Building your own shop" -------------------------------------------------
from oscar.defaults import *  # noqa: E402, F403

TEMPLATES[0]["OPTIONS"]["context_processors"] += [
    "oscar.apps.search.context_processors.search_form",
    "oscar.apps.checkout.context_processors.checkout",
    "oscar.apps.communication.notifications.context_processors.notifications",
    "oscar.core.context_processors.metadata",
]

INSTALLED_APPS = [
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.staticfiles",
    "django.contrib.sites",
    "django.contrib.flatpages",
    "oscar.config.Shop",
    "oscar.apps.analytics.apps.AnalyticsConfig",
    "oscar.apps.checkout.apps.CheckoutConfig",
    "oscar.apps.address.apps.AddressConfig",
    "oscar.apps.shipping.apps.ShippingConfig",
    "oscar.apps.catalogue.apps.CatalogueConfig",
    "oscar.apps.catalogue.reviews.apps.CatalogueReviewsConfig",
    "oscar.apps.communication.apps.CommunicationConfig",
    "oscar.apps.partner.apps.PartnerConfig",
    "oscar.apps.basket.apps.BasketConfig",
    "oscar.apps.payment.apps.PaymentConfig",
    "oscar.apps.offer.apps.OfferConfig",
    "oscar.apps.order.apps.OrderConfig",
    "oscar.apps.customer.apps.CustomerConfig",
    "oscar.apps.search.apps.SearchConfig",
    "oscar.apps.voucher.apps.VoucherConfig",
    "oscar.apps.wishlists.apps.WishlistsConfig",
    "oscar.apps.dashboard.apps.DashboardConfig",
    "oscar.apps.dashboard.reports.apps.ReportsDashboardConfig",
    "oscar.apps.dashboard.users.apps.UsersDashboardConfig",
    "oscar.apps.dashboard.orders.apps.OrdersDashboardConfig",
    "oscar.apps.dashboard.catalogue.apps.CatalogueDashboardConfig",
    "oscar.apps.dashboard.offers.apps.OffersDashboardConfig",
    "oscar.apps.dashboard.partners.apps.PartnersDashboardConfig",
    "oscar.apps.dashboard.pages.apps.PagesDashboardConfig",
    "oscar.apps.dashboard.ranges.apps.RangesDashboardConfig",
    "oscar.apps.dashboard.reviews.apps.ReviewsDashboardConfig",
    "oscar.apps.dashboard.vouchers.apps.VouchersDashboardConfig",
    "oscar.apps.dashboard.communications.apps.CommunicationsDashboardConfig",
    "oscar.apps.dashboard.shipping.apps.ShippingDashboardConfig",
    "widget_tweaks",
    "haystack",
    "treebeard",
    "sorl.thumbnail",
    "django_tables2",
]
SITE_ID = 1

MIDDLEWARE += [
    "oscar.apps.basket.middleware.BasketMiddleware",
    "django.contrib.flatpages.middleware.FlatpageFallbackMiddleware",
]

AUTHENTICATION_BACKENDS = (
    "oscar.apps.customer.auth_backends.EmailBackend",
    "django.contrib.auth.backends.ModelBackend",
)

MEDIA_URL = "/media/"
MEDIA_ROOT = BASE_DIR / "media"
STATIC_ROOT = BASE_DIR / "static"

HAYSTACK_CONNECTIONS = {
    "default": {"ENGINE": "haystack.backends.simple_backend.SimpleEngine"},
}

DATABASES = {"default": {**DATABASE, "ATOMIC_REQUESTS": True}}

OSCAR_INITIAL_ORDER_STATUS = "Pending"
OSCAR_INITIAL_LINE_STATUS = "Pending"
OSCAR_ORDER_STATUS_PIPELINE = {
    "Pending": ("Being processed", "Cancelled"),
    "Being processed": ("Processed", "Cancelled"),
    "Cancelled": (),
}

# --- as a benchmark runs it: production mode, its own secret -------------------------
import os  # noqa: E402

DEBUG = False
SECRET_KEY = os.environ["SECRET_KEY"]
ALLOWED_HOSTS = ["127.0.0.1", "localhost"]
"""

OSCAR_URLS = """\
from django.apps import apps
from django.contrib import admin
from django.urls import include, path

urlpatterns = [
    path("i18n/", include("django.conf.urls.i18n")),
    path("admin/", admin.site.urls),
    path("", include(apps.get_app_config("oscar").urls[0])),
]
"""

# One product class, one fulfilment partner (the guide: "every Oscar deployment needs at
# least one"), one product with a price and stock; prints the product page's path.
OSCAR_SEED = """
from decimal import Decimal
from oscar.core.loading import get_model

ProductClass = get_model("catalogue", "ProductClass")
Product = get_model("catalogue", "Product")
Partner = get_model("partner", "Partner")
StockRecord = get_model("partner", "StockRecord")

product = Product.objects.filter(upc="BENCH-1").first()
if product is None:
    kind, _ = ProductClass.objects.get_or_create(name="Book", defaults={"track_stock": True})
    partner, _ = Partner.objects.get_or_create(name="Frobshop warehouse")
    product = Product.objects.create(
        product_class=kind,
        title="The benchmark book",
        upc="BENCH-1",
        description="A book to sell. " * 40,
    )
    StockRecord.objects.create(
        product=product, partner=partner, partner_sku="BENCH-1",
        price=Decimal("12.50"), num_in_stock=1000,
    )
print(product.get_absolute_url())
"""
OSCAR_PRODUCT_TITLE = "The benchmark book"


def database_settings(url: str) -> dict:
    parts = urlsplit(url)
    return {
        "ENGINE": "django.db.backends.postgresql",
        "NAME": unquote(parts.path.lstrip("/")),
        "USER": unquote(parts.username or ""),
        "PASSWORD": unquote(parts.password or ""),
        "HOST": parts.hostname or "",
        "PORT": str(parts.port or ""),
    }


def write_oscar(python: str, folder: Path, database_url: str) -> None:
    """`django-admin startproject frobshop` and the guide's changes, written afresh."""
    shutil.rmtree(folder, ignore_errors=True)
    folder.mkdir(parents=True)
    subprocess.run(
        [python, "-m", "django", "startproject", "frobshop", str(folder)],
        check=True,
        capture_output=True,
    )
    settings = folder / "frobshop" / "settings.py"
    database = f"\nDATABASE = {database_settings(database_url)!r}\n"
    settings.write_text(settings.read_text() + database + OSCAR_SETTINGS)
    (folder / "frobshop" / "urls.py").write_text(OSCAR_URLS)
