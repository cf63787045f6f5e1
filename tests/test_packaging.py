"""The installed site is the site only: no Stripe stand-in, demo data or dev commands.

devtools/ lives beside the site in a checkout; pyproject's package list leaves it out of
`pip install .`, and settings load its app only with DEBUG on (or the test suite's
switch), so production can neither import it from a wheel nor run its commands.
"""

import ast
import os
import shutil
import subprocess
import sys
import tomllib
import zipfile
from pathlib import Path

import pytest
from setuptools import find_packages

ROOT = Path(__file__).resolve().parent.parent
# Top-level folders of the checkout that are not the site.
NOT_SHIPPED = ("devtools", "tests", "bench")
# What any of those would put in a wheel: their packages, and the stand-in's files.
DEVTOOLS_MARKERS = ("devtools/", "stripe_standin", "tests/", "bench/")


def configured_packages() -> list[str]:
    """The packages `pip install .` installs, from pyproject's own find configuration."""
    config = tomllib.loads((ROOT / "pyproject.toml").read_text())
    find = config["tool"]["setuptools"]["packages"]["find"]
    return find_packages(where=str(ROOT), include=find["include"], exclude=find.get("exclude", ()))


def test_the_configured_packages_hold_the_site_and_no_dev_tools():
    packages = configured_packages()
    assert {"pharmacy", "accounts", "catalog", "orders", "prescriptions", "dispensing"} <= set(
        packages
    )
    shipped = [p for p in packages if p.split(".")[0] in NOT_SHIPPED or "standin" in p]
    assert shipped == []


@pytest.mark.slow
def test_the_built_wheel_contains_no_dev_tools(tmp_path):
    """Built from a copy, as `pip install .` builds it, so the checkout gets no build/."""
    source = tmp_path / "source"
    shutil.copytree(
        ROOT,
        source,
        ignore=shutil.ignore_patterns(
            ".git", ".venv", "build", "*.egg-info", "__pycache__", "staticfiles",
            "private_media", "test-artifacts", "db.sqlite3*", ".*_cache",
        ),
    )  # fmt: skip
    out = tmp_path / "wheel"
    subprocess.run(
        [sys.executable, "-m", "pip", "wheel", "--no-deps", "-q", "-w", str(out), str(source)],
        check=True,
        capture_output=True,
        timeout=300,
    )
    (wheel,) = out.glob("pharmacy-*.whl")
    names = zipfile.ZipFile(wheel).namelist()
    assert "orders/payments/client.py" in names and "pharmacy/settings.py" in names
    assert [n for n in names if any(marker in n for marker in DEVTOOLS_MARKERS)] == []


def manage(*args: str, **env: str) -> subprocess.CompletedProcess:
    """manage.py with production settings: DEBUG off, no switch of the test suite."""
    dropped = {"DEBUG", "TEST_ONLY_DEVTOOLS", "STRIPE_API_BASE", "TEST_ONLY_ALLOW_STRIPE_STANDIN"}
    base = {k: v for k, v in os.environ.items() if k not in dropped}
    return subprocess.run(
        [sys.executable, "manage.py", *args],
        cwd=ROOT,
        env={**base, **env},
        capture_output=True,
        text=True,
        timeout=60,
    )


@pytest.mark.parametrize(
    "command", ["seed_demo", "totp_code", "run_scheduler", "send_example_prescription"]
)
def test_production_settings_do_not_load_the_dev_commands(command):
    """Even from a checkout that has devtools/: with DEBUG off they are unknown."""
    result = manage(command, "--help")
    assert result.returncode != 0
    assert f"Unknown command: '{command}'" in result.stderr


def test_development_settings_load_the_dev_commands():
    result = manage("seed_demo", "--help", DEBUG="1")
    assert result.returncode == 0, result.stderr
    assert "Create the demo accounts" in result.stdout


def test_bench_imports_nothing_from_the_tests():
    """The benchmarks run without the test suite: what both need lives in devtools/."""
    imports = []
    for path in sorted((ROOT / "bench").glob("*.py")):
        for node in ast.walk(ast.parse(path.read_text(), filename=str(path))):
            if isinstance(node, ast.ImportFrom) and node.module:
                imports.append((path.name, node.module))
            elif isinstance(node, ast.Import):
                imports += [(path.name, alias.name) for alias in node.names]
    assert imports, "no imports found: the scan itself is broken"
    assert [(f, m) for f, m in imports if m.split(".")[0] == "tests"] == []
