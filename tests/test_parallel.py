"""Each xdist worker gets Redis databases and a static folder of its own (tests/parallel.py)."""

import pytest

from tests.parallel import ROOT, worker_environment

REDIS = "redis://127.0.0.1:6379/15"
CACHE = "redis://127.0.0.1:6379/14"


def test_the_first_worker_keeps_the_configured_redis_databases():
    env = worker_environment(0, {"REDIS_URL": REDIS, "CACHE_URL": CACHE})
    assert (env["REDIS_URL"], env["CACHE_URL"]) == (REDIS, CACHE)


def test_the_second_worker_takes_the_two_databases_below():
    env = worker_environment(1, {"REDIS_URL": REDIS, "CACHE_URL": CACHE})
    assert env["REDIS_URL"] == "redis://127.0.0.1:6379/13"
    assert env["CACHE_URL"] == "redis://127.0.0.1:6379/12"


def test_a_cache_sharing_the_broker_database_moves_with_it():
    env = worker_environment(1, {"REDIS_URL": REDIS})
    assert env["REDIS_URL"] == "redis://127.0.0.1:6379/14"
    assert "CACHE_URL" not in env


def test_no_worker_is_given_a_database_below_zero():
    with pytest.raises(pytest.UsageError, match="Not enough Redis databases"):
        worker_environment(1, {"REDIS_URL": "redis://127.0.0.1:6379/1", "CACHE_URL": CACHE})


def test_without_redis_only_the_static_folder_is_per_worker():
    assert worker_environment(0, {}) == {"STATIC_ROOT": str(ROOT / "staticfiles" / "xdist-gw0")}
    assert worker_environment(1, {"STATIC_ROOT": "/srv/static"}) == {
        "STATIC_ROOT": "/srv/static/xdist-gw1"
    }
