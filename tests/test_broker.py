"""The broker's Redis transport reuses one redis-py client per connection pool
(pharmacy/broker.py), and still publishes and acknowledges after Redis dropped its
connection: killed here with CLIENT KILL on this test's own Redis database, not by
stopping the server."""

import secrets

import pytest
import redis
from django.conf import settings
from kombu import Connection

from pharmacy.broker import Channel
from pharmacy.celery import app as celery_app

pytestmark = pytest.mark.skipif(
    not settings.REDIS_URL.startswith("redis://"), reason="the broker is Redis only with REDIS_URL"
)


@pytest.fixture
def broker():
    with Connection(settings.REDIS_URL, transport=settings.CELERY_BROKER_TRANSPORT) as connection:
        yield connection


@pytest.fixture
def queue_name():
    name = f"test-broker-{secrets.token_hex(4)}"
    yield name
    redis.Redis.from_url(settings.REDIS_URL).delete(name)


def kill_connections(channel) -> int:
    """Close, on the server's side, every connection the channel's pool holds."""
    with channel.conn_or_acquire() as client:
        client_id = client.client_id()
    admin = redis.Redis.from_url(settings.REDIS_URL)
    killed = admin.client_kill_filter(_id=client_id)
    admin.close()
    return killed


def test_the_workers_broker_is_the_transport_that_reuses_its_client():
    with celery_app.connection_for_write() as connection:
        assert isinstance(connection.default_channel, Channel)


def test_the_broker_sends_every_command_through_one_client(broker):
    channel = broker.default_channel
    with channel.conn_or_acquire() as first, channel.conn_or_acquire() as second:
        assert first is second
    with channel.conn_or_acquire(client=None) as third:
        assert third is first


def test_a_new_pool_after_a_fork_gets_a_new_client(broker):
    channel = broker.default_channel
    with channel.conn_or_acquire() as before:
        pass
    channel._disconnect_pools()  # what kombu does after a fork and when it closes
    with channel.conn_or_acquire() as after:
        assert after is not before
        assert after.connection_pool is channel.pool
        assert after.ping()


def test_a_message_is_published_and_acknowledged_after_redis_dropped_the_connection(
    broker, queue_name
):
    queue = broker.SimpleQueue(queue_name)
    queue.put({"n": 1})
    assert kill_connections(broker.default_channel) == 1
    queue.put({"n": 2})  # a publish on the dropped connection reconnects
    first = queue.get(timeout=5)
    assert kill_connections(broker.default_channel) == 1
    first.ack()  # so does an acknowledgement
    second = queue.get(timeout=5)
    second.ack()
    assert [first.payload, second.payload] == [{"n": 1}, {"n": 2}]
    channel = broker.default_channel
    with channel.conn_or_acquire() as client:
        # Acknowledged: nothing left for kombu to restore to the queue.
        assert client.hlen(channel.unacked_key) == 0
        assert client.llen(queue_name) == 0
    queue.close()
