"""The Redis cache reuses one redis-py client: building one per call cost as much as
the round trip on every cached page."""

import pytest
from django.conf import settings
from django.core.cache import caches


@pytest.mark.skipif(not settings.REDIS_URL, reason="the cache is Redis only with REDIS_URL")
def test_the_redis_cache_reuses_one_client_for_every_call():
    backend = caches["default"]
    backend.set("reuse-check", 1)
    assert backend.get("reuse-check") == 1
    client = backend._cache.get_client()
    assert backend._cache.get_client(write=True) is client
    assert backend._cache.get_client("another key") is client
