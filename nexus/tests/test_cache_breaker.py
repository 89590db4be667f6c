"""The Redis circuit breaker: after a real connection failure the cache is skipped at once
(no socket wait per call), and it is tried again when the breaker period ends. And the
packed batch the cached hits send (``nexus.cache.pipelined``), against a real Redis."""

import time

import pytest
from django.conf import settings
from django_redis.cache import RedisCache
from django_redis.client import DefaultClient

from nexus.cache import breaker


@pytest.fixture
def dead_redis_cache():
    # Port 1 on loopback: nothing listens, every connection is refused.
    breaker.reset()
    cache = RedisCache(
        "redis://127.0.0.1:1/0",
        {
            "OPTIONS": {
                "CLIENT_CLASS": "nexus.cache.CircuitBreakerClient",
                "SOCKET_CONNECT_TIMEOUT": 0.5,
                "SOCKET_TIMEOUT": 0.5,
                "IGNORE_EXCEPTIONS": True,
            }
        },
    )
    yield cache
    breaker.reset()


def test_a_failure_opens_the_breaker_and_later_calls_skip_redis(dead_redis_cache, monkeypatch):
    assert dead_redis_cache.get("k", "fallback") == "fallback"
    assert breaker.is_open()

    reached: list[str] = []
    original = DefaultClient.get

    def counting_get(self, *args, **kwargs):
        reached.append("get")
        return original(self, *args, **kwargs)

    monkeypatch.setattr(DefaultClient, "get", counting_get)
    assert dead_redis_cache.get("k", "fallback") == "fallback"
    assert dead_redis_cache.set("k", "v") is None
    assert reached == []


def test_the_breaker_lets_a_probe_through_when_it_expires(dead_redis_cache, settings):
    settings.NEXUS_CACHE_BREAKER_SECONDS = 0.2
    dead_redis_cache.get("k")
    assert breaker.is_open()
    time.sleep(0.25)
    assert not breaker.is_open()
    dead_redis_cache.get("k")  # the probe fails again: the breaker re-opens
    assert breaker.is_open()


needs_redis = pytest.mark.skipif(not settings.REDIS_URL, reason="a real Redis")


@needs_redis
def test_pipelined_replies_equal_the_pipelines(redis_round_trips):
    from django.core.cache import cache

    from nexus.cache import _COUNT_WINDOW, pipelined

    client = cache.client.get_client(write=True)
    client.delete("pipelined:count", "pipelined:a")
    client.set("pipelined:a", b"1")
    commands = [
        ("EVAL", _COUNT_WINDOW, 1, "pipelined:count", 60),
        ("MGET", "pipelined:a", "x:none"),
    ]
    redis_round_trips.clear()
    ours = pipelined(client, commands)
    assert len(redis_round_trips) == 1
    pipe = client.pipeline(transaction=False)
    pipe.eval(_COUNT_WINDOW, 1, "pipelined:count", 60)
    pipe.mget("pipelined:a", "x:none")
    assert ours == [1, [b"1", None]]
    assert pipe.execute() == [2, [b"1", None]]
    client.delete("pipelined:count", "pipelined:a")


@needs_redis
def test_pipelined_error_reply_reads_every_reply_first():
    """An error reply is raised after the rest are read: the pooled connection stays in
    step, and the next command on it reads its own reply."""
    from django.core.cache import cache
    from redis.exceptions import ResponseError

    from nexus.cache import _COUNT_WINDOW, pipelined

    client = cache.client.get_client(write=True)
    client.set("pipelined:text", b"not a number")
    client.set("pipelined:b", b"2")
    commands = [("EVAL", _COUNT_WINDOW, 1, "pipelined:text", 60), ("MGET", "pipelined:b")]
    with pytest.raises(ResponseError):
        pipelined(client, commands)
    returned = client.connection_pool._available_connections[-1]
    time.sleep(0.05)  # a reply left unread would have arrived by now
    assert not returned.can_read()
    assert client.get("pipelined:b") == b"2"
    assert client.echo(b"in step") == b"in step"
    client.delete("pipelined:text", "pipelined:b")


@needs_redis
def test_pipelined_connection_error_drops_the_connection(monkeypatch):
    """A connection error goes to the connection's retry policy, as the pipeline's does
    (none here: ``retry_on_timeout`` off, the breaker takes the error), and the
    connection is dropped, never handed back to the pool half used; the next batch
    works on a new one."""
    from django.core.cache import cache
    from redis.connection import AbstractConnection
    from redis.exceptions import ConnectionError as RedisConnectionError

    from nexus.cache import pipelined

    client = cache.client.get_client(write=True)
    client.set("pipelined:c", b"3")
    send = AbstractConnection.send_packed_command
    sends = []

    def failing_once(self, command, check_health=True):
        sends.append(self)
        if len(sends) == 1:
            raise RedisConnectionError("Connection closed by server.")
        return send(self, command, check_health)

    monkeypatch.setattr(AbstractConnection, "send_packed_command", failing_once)
    with pytest.raises(RedisConnectionError):
        pipelined(client, [("MGET", "pipelined:c")])
    assert sends[0]._sock is None  # dropped
    assert pipelined(client, [("MGET", "pipelined:c")]) == [[b"3"]]  # reconnected
    monkeypatch.undo()
    client.delete("pipelined:c")
