"""Production settings refuse to start without their secrets and pass the deploy checklist."""

import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent


def run_manage(*args: str, **env: str) -> subprocess.CompletedProcess:
    base = {
        k: v
        for k, v in os.environ.items()
        if k not in {"SECRET_KEY", "ALLOWED_HOSTS", "DEBUG", "HTTPS", "DJANGO_ALLOW_ASYNC_UNSAFE"}
    }
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
