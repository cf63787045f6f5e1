"""The site's own error pages, with its header, footer and a way back, however it runs:
under `make run` (DEBUG on) an unknown address gets the site's 404 page too."""

import pytest
from django.test import Client

from tests.factories import sign_in_staff
from tests.test_settings import run_python

DEBUG_404 = "pharmacy.middleware.SiteNotFoundPageMiddleware"
SITE_404 = "We couldn’t find that page"


@pytest.fixture
def debug_on(settings):
    """DEBUG on, with the middleware settings.py adds when DEBUG is on."""
    settings.DEBUG = True
    settings.MIDDLEWARE = [*settings.MIDDLEWARE, DEBUG_404]


def assert_site_page(html: str) -> None:
    assert '<header class="site-header">' in html
    assert '<footer class="site-footer">' in html
    assert 'href="/contact/"' in html
    assert 'href="/"' in html  # a way back


@pytest.mark.parametrize("url", ["/no-such-page/", "/medicines/no-such-medicine/"])
def test_with_debug_on_an_unknown_address_gets_the_sites_404_page(client, db, debug_on, url):
    response = client.get(url)
    html = response.content.decode()
    assert response.status_code == 404
    assert SITE_404 in html and "Browse our medicines" in html
    assert "URLconf" not in html  # not Django's list of every URL pattern
    assert_site_page(html)


def test_with_debug_on_djangos_technical_404_page_is_still_there_when_asked_for(
    client, db, debug_on
):
    html = client.get("/no-such-page/", {"technical-404": ""}).content.decode()
    assert "Page not found at" in html and SITE_404 not in html


def test_make_run_settings_show_the_sites_404_page_and_production_has_no_such_middleware():
    script = (
        "import django; django.setup()\n"
        "from django.conf import settings\n"
        "from django.test import Client\n"
        "from django.test.utils import setup_test_environment\n"
        "setup_test_environment()\n"
        f"print({DEBUG_404!r} in settings.MIDDLEWARE)\n"
        "response = Client().get('/no-such-page/')\n"
        f"print(response.status_code, {SITE_404!r} in response.content.decode())\n"
    )
    env = {"DJANGO_SETTINGS_MODULE": "pharmacy.settings"}
    development = run_python(["-c", script], DEBUG="1", **env)
    assert development.stdout.splitlines()[-2:] == ["True", "404 True"], development.stderr
    production = run_python(
        [
            "-c",
            "import django; django.setup(); from django.conf import settings; "
            f"print({DEBUG_404!r} in settings.MIDDLEWARE)",
        ],
        SECRET_KEY="x" * 50,
        ALLOWED_HOSTS="example.com",
        STRIPE_SECRET_KEY="sk_test_x",
        STRIPE_WEBHOOK_SECRET="whsec_x",
        **env,
    )
    assert production.stdout.strip() == "False", production.stderr


@pytest.mark.parametrize("debug", [False, True])
def test_staff_outside_their_role_get_the_sites_403_page(pharmacist, settings, debug):
    settings.DEBUG = debug
    response = sign_in_staff(Client(), pharmacist).get("/admin/catalog/drug/")
    html = response.content.decode()
    assert response.status_code == 403
    assert "You don’t have access to this page" in html
    assert_site_page(html)


@pytest.mark.urls("tests.about.urls_broken")
def test_a_bug_gets_the_sites_500_page_with_a_way_back(db, demo_pharmacy):
    response = Client(raise_request_exception=False).get("/broken/")
    html = response.content.decode()
    assert response.status_code == 500
    assert "Something went wrong on our side" in html
    assert "(555) 010-0142" in html  # the footer, with the phone to call
    assert_site_page(html)


@pytest.mark.urls("tests.about.urls_broken")
def test_the_500_page_renders_even_when_the_cache_is_unreachable(db, settings):
    settings.CACHES = {
        "default": {
            "BACKEND": "django.core.cache.backends.redis.RedisCache",
            "LOCATION": "redis://127.0.0.1:9/0",  # nothing listens there
        }
    }
    response = Client(raise_request_exception=False).get("/broken/")
    assert response.status_code == 500
    assert "Something went wrong on our side" in response.content.decode()
