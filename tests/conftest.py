import os
from io import StringIO
from pathlib import Path

import pytest
from django.core.cache import cache
from django.core.management import call_command

from about.selectors import forget_local_facts
from catalog.caching import forget_local_copies
from catalog.models import Drug
from orders.page_copy import forget_copies
from orders.shipping_copy import forget_copy
from pharmacy.celery import app as celery_app
from tests.factories import make_catalog_staff, make_user, sign_in_staff

# Fixtures shared by the whole suite, registered once; each is defined in one place.
pytest_plugins = [
    "tests.parallel",
    "tests.fixtures.people",
    "tests.fixtures.partners",
    "tests.fixtures.pharmacy",
    "tests.fixtures.prescriptions",
    "tests.fixtures.shipping",
    "tests.fixtures.stripe",
]


@pytest.fixture(scope="session", autouse=True)
def collected_static(django_test_environment):
    """DEBUG is off in tests, so pages need the hashed static manifest, as in production."""
    call_command("collectstatic", interactive=False, verbosity=0)


@pytest.fixture(autouse=True)
def fast_password_hashing(settings):
    """Production's slow hasher is for attackers; tests only need passwords to match."""
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]


@pytest.fixture(autouse=True)
def celery_eager(request):
    """Tasks run in-process in unit tests, even with Redis configured.

    Integration tests that start a real worker mark themselves `worker` and get the
    broker instead.
    """
    if request.node.get_closest_marker("worker"):
        yield
        return
    previous = celery_app.conf.task_always_eager
    celery_app.conf.task_always_eager = True
    yield
    celery_app.conf.task_always_eager = previous


@pytest.fixture(autouse=True)
def private_media(settings, tmp_path):
    """Prescription files go to a fresh folder per test, never the developer's own."""
    settings.PRIVATE_MEDIA_ROOT = tmp_path / "private"
    return settings.PRIVATE_MEDIA_ROOT


@pytest.fixture(autouse=True)
def empty_cache():
    """Each test starts with a cold cache (it may be a shared Redis in CI), and without
    the process's own copies of catalog pages, delivery options, pharmacy details and
    patients' pages."""
    cache.clear()
    forget_local_copies()
    forget_copy()
    forget_local_facts()
    forget_copies()
    yield
    cache.clear()
    forget_local_copies()
    forget_copy()
    forget_local_facts()
    forget_copies()


@pytest.fixture
def baclofen(db) -> Drug:
    """The drug loaded by the catalog's data migration."""
    return Drug.objects.get(slug="baclofen")


TEST_DATA = Path(__file__).resolve().parent / "catalog" / "data"


@pytest.fixture
def tizanidine(db) -> Drug:
    """A second drug, loaded from the monograph that ships with the tests by the same
    command staff use, so that its rules are rows the loader wrote, not code."""
    call_command("load_monograph", TEST_DATA / "tizanidine-monograph.txt", stdout=StringIO())
    return Drug.objects.get(slug="tizanidine")


@pytest.fixture
def catalog_staff(db):
    return make_catalog_staff()


@pytest.fixture
def patient_user(db):
    return make_user(email="pat@example.com")


@pytest.fixture
def staff_client(client, catalog_staff):
    return sign_in_staff(client, catalog_staff)


# Browsers ----------------------------------------------------------------------

CHROMIUM = Path("/usr/bin/chromium")
# Headless Debian Chromium; without the networking flags it keeps trying to reach
# Google's servers, which this network refuses.
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]


@pytest.fixture(scope="session")
def playwright(playwright):
    """Playwright's sync API runs an event loop in the test thread from here on, and
    Django's ORM refuses to run beside one unless told. This test process only: the
    site's own processes never inherit it (devtools/processes.py drops it)."""
    os.environ["DJANGO_ALLOW_ASYNC_UNSAFE"] = "true"
    return playwright


@pytest.fixture(scope="session")
def browser_type_launch_args(browser_type_launch_args):
    """Debian's Chromium for pytest-playwright: Playwright cannot download its own here."""
    return {
        **browser_type_launch_args,
        "executable_path": str(CHROMIUM),
        "args": CHROMIUM_ARGS,
        "headless": browser_type_launch_args.get("headless", True),
    }


# Playwright and serialized_rollback --------------------------------------------


@pytest.fixture(scope="session", autouse=True)
def serialized_contents(django_db_setup) -> dict[str, str]:
    """The migrations' rows as pytest-django serialized them, read before Playwright starts.

    Django keeps them on the connection object, which lives in a context variable
    (asgiref's Local). Once Playwright's sync API has started, the test thread runs in
    another context, sees a new connection object without them, and `serialized_rollback`
    silently restores nothing. Autouse and session-scoped, this runs before the
    `playwright` fixture, in the context `django_db_setup` used.
    """
    from django.db import connections

    return {
        alias: connections[alias]._test_serialized_contents
        for alias in connections
        if hasattr(connections[alias], "_test_serialized_contents")
    }


@pytest.fixture(autouse=True)
def migrated_rows(request, serialized_contents) -> None:
    """Puts the migrations' rows back when `serialized_rollback` could not (see above).

    Runs after pytest-django's own restore; restoring rows that exist only saves them
    again, so this is harmless when that restore did happen. The connection of this
    context then gets the contents, so that the next tests' restores work by themselves.
    """
    from django.db import connections

    marker = request.node.get_closest_marker("django_db")
    if marker is None or not marker.kwargs.get("serialized_rollback"):
        return
    request.getfixturevalue("transactional_db")  # pytest-django's own restore goes first
    for alias, contents in serialized_contents.items():
        connection = connections[alias]
        if not hasattr(connection, "_test_serialized_contents"):
            connection.creation.deserialize_db_from_string(contents)
            connection._test_serialized_contents = contents
