"""Kombu's Redis transport, with one redis-py client per connection pool.

Kombu's Redis channel builds a new `redis.Redis` around its (kept) connection pool
for every command it sends outside the consuming loop (`conn_or_acquire`): each
publish, and each acknowledgement of an `acks_late` task. The constructor copies some
170 response callbacks into a dict, which cost the worker about as much as the
command's round trip. A client holds no connection of its own (it takes one from the
pool per command and gives it back) and is safe to share between threads, so one per
pool is kept and reused, as `pharmacy.cache` does for Django's cache.

Nothing else changes, a dropped connection included: the pool is kombu's, and so is
everything that happens when Redis goes away. A command on a dead socket fails or is
retried by redis-py as before (the connection is disconnected and the pool opens a new
one next time); a channel that kombu closes or forks drops its pool, and the next
command builds a client around the new one.

Used for `redis://` brokers (`CELERY_BROKER_TRANSPORT`); `rediss://` keeps kombu's
own transport, whose choice by URL scheme also sets its TLS defaults.
"""

from contextlib import contextmanager

from kombu.transport import redis


class Channel(redis.Channel):
    _reused_client = None

    def _pool_client(self):
        pool = self.pool  # a new pool after a fork or after kombu dropped the old one
        client = self._reused_client
        if client is None or client.connection_pool is not pool:
            client = self._reused_client = self._create_client()
        return client

    @contextmanager
    def conn_or_acquire(self, client=None):
        yield client or self._pool_client()

    def _disconnect_pools(self):
        self._reused_client = None
        super()._disconnect_pools()


class Transport(redis.Transport):
    Channel = Channel
