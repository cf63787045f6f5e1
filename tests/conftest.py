import pytest
from django.core.cache import cache
from django.core.management import call_command

from catalog.models import Drug
from pharmacy.celery import app as celery_app
from tests.factories import make_catalog_staff, make_user


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
    """Each test starts with a cold cache (it may be a shared Redis in CI)."""
    cache.clear()
    yield
    cache.clear()


@pytest.fixture
def baclofen(db) -> Drug:
    """The drug loaded by the catalog's data migration."""
    return Drug.objects.get(slug="baclofen")


@pytest.fixture
def catalog_staff(db):
    return make_catalog_staff()


@pytest.fixture
def patient_user(db):
    return make_user(email="pat@example.com")


@pytest.fixture
def staff_client(client, catalog_staff):
    client.force_login(catalog_staff)
    return client
