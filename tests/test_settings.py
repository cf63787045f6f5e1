"""Production settings refuse to start without their secrets and pass the deploy checklist."""

import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent


NOT_INHERITED = {
    "SECRET_KEY",
    "ALLOWED_HOSTS",
    "DEBUG",
    "HTTPS",
    "DJANGO_ALLOW_ASYNC_UNSAFE",
    "STRIPE_API_BASE",
    "TEST_ONLY_ALLOW_STRIPE_STANDIN",
    "TEST_ONLY_DEVTOOLS",
}
PRODUCTION = {"SECRET_KEY": "x" * 50, "ALLOWED_HOSTS": "example.com"}
# What gunicorn (pharmacy.wsgi), manage.py and the Celery worker (pharmacy.celery, which
# reads the settings when it starts) each do first.
STARTS = {
    "wsgi": ["-c", "import pharmacy.wsgi"],
    "manage": ["manage.py", "check"],
    "celery": ["-c", "from pharmacy.celery import app; app.loader.import_default_modules()"],
}


def run_python(args: list[str], **env: str) -> subprocess.CompletedProcess:
    base = {k: v for k, v in os.environ.items() if k not in NOT_INHERITED}
    return subprocess.run(
        [sys.executable, *args],
        cwd=ROOT,
        env={**base, **env},
        capture_output=True,
        text=True,
        timeout=60,
    )


def run_manage(*args: str, **env: str) -> subprocess.CompletedProcess:
    base = {k: v for k, v in os.environ.items() if k not in NOT_INHERITED}
    return subprocess.run(
        [sys.executable, "manage.py", *args],
        cwd=ROOT,
        env={**base, **env},
        capture_output=True,
        text=True,
        timeout=60,
    )


@pytest.mark.parametrize(
    ("env", "missing"),
    [
        ({"ALLOWED_HOSTS": "example.com"}, "SECRET_KEY"),
        ({"SECRET_KEY": "x" * 50}, "ALLOWED_HOSTS"),
    ],
)
def test_production_refuses_to_start_without_its_secrets(env, missing):
    result = run_manage("check", **env)
    assert result.returncode != 0
    assert f"{missing} must be set when DEBUG is off" in result.stderr


def test_development_starts_without_any_variable():
    assert run_manage("check", DEBUG="1").returncode == 0


@pytest.mark.slow
def test_deploy_checklist_passes_with_production_settings():
    result = run_manage(
        "check",
        "--deploy",
        "--fail-level",
        "WARNING",
        SECRET_KEY="a-production-like-secret-key-" + "q8Zr" * 10,
        ALLOWED_HOSTS="pharmacy.example.com",
    )
    assert result.returncode == 0, result.stderr


def test_the_stripe_stand_in_is_refused_with_debug_off():
    result = run_manage(
        "check",
        SECRET_KEY="x" * 50,
        ALLOWED_HOSTS="example.com",
        STRIPE_API_BASE="http://127.0.0.1:12111",
    )
    assert result.returncode != 0
    assert "refused when DEBUG is off" in result.stderr


@pytest.mark.slow
def test_the_deploy_checklist_fails_while_the_stand_in_is_allowed():
    result = run_manage(
        "check",
        "--deploy",
        SECRET_KEY="a-production-like-secret-key-" + "q8Zr" * 10,
        ALLOWED_HOSTS="pharmacy.example.com",
        STRIPE_API_BASE="http://127.0.0.1:12111",
        TEST_ONLY_ALLOW_STRIPE_STANDIN="1",
    )
    assert result.returncode != 0
    assert "orders.E001" in result.stderr


@pytest.mark.parametrize("start", list(STARTS))
@pytest.mark.parametrize(
    ("env", "refusal"),
    [
        pytest.param(
            {"STRIPE_API_BASE": "http://127.0.0.1:12111"},
            "STRIPE_API_BASE (the local Stripe stand-in) is refused",
            id="stand-in",
        ),
        pytest.param(
            {"STRIPE_SECRET_KEY": "sk_test_local"},
            "public development values from the Makefile",
            id="dev-key",
        ),
        pytest.param(
            {"STRIPE_WEBHOOK_SECRET": "whsec_local_development"},
            "public development values from the Makefile",
            id="dev-webhook-secret",
        ),
        pytest.param(
            {
                "STRIPE_WEBHOOK_SECRET": "whsec_local_development",
                "STRIPE_API_BASE": "http://127.0.0.1:12111",
                "TEST_ONLY_ALLOW_STRIPE_STANDIN": "1",
            },
            "public development values from the Makefile",
            id="dev-secret-with-the-test-switch",
        ),
    ],
)
def test_production_refuses_to_start_with_development_stripe_settings(start, env, refusal):
    result = run_python(STARTS[start], **PRODUCTION, **env)

    assert result.returncode != 0
    assert "ImproperlyConfigured" in result.stderr
    assert refusal in result.stderr


@pytest.mark.parametrize("start", list(STARTS))
def test_production_starts_with_its_own_stripe_settings(start):
    result = run_python(
        STARTS[start],
        **PRODUCTION,
        STRIPE_SECRET_KEY="sk_live_not_the_makefiles",
        STRIPE_WEBHOOK_SECRET="whsec_not_the_makefiles",
    )
    assert result.returncode == 0, result.stderr


def test_development_keeps_the_makefiles_stripe_values():
    result = run_manage(
        "check",
        DEBUG="1",
        STRIPE_SECRET_KEY="sk_test_local",
        STRIPE_WEBHOOK_SECRET="whsec_local_development",
        STRIPE_API_BASE="http://127.0.0.1:12111",
    )
    assert result.returncode == 0, result.stderr
