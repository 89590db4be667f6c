"""The Redis circuit breaker: after a real connection failure the cache is skipped at once
(no socket wait per call), and it is tried again when the breaker period ends."""

import time

import pytest
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
