"""A circuit breaker in front of Redis.

The cache ignores Redis errors (a dead Redis means uncached answers, never a 500), but a
Redis that *hangs* (frozen process, black-holed network) made every cache call wait out
its socket timeout, so each request paid several timeouts: seconds per request in the
frozen-Redis drill. After a connection error this client answers "unavailable" at once
for ``NEXUS_CACHE_BREAKER_SECONDS``, then lets one call through to probe; the cache
comes back by itself when Redis does, without restarting anything.
"""

import logging
import threading
import time

from django.conf import settings
from django_redis.client import DefaultClient
from django_redis.exceptions import ConnectionInterrupted

logger = logging.getLogger("nexus.cache")

# Client methods that talk to Redis (the rest build keys or manage the pool).
_COMMANDS = frozenset(
    [
        "set",
        "incr_version",
        "add",
        "get",
        "persist",
        "expire",
        "pexpire",
        "pexpire_at",
        "expire_at",
        "lock",
        "delete",
        "delete_pattern",
        "delete_many",
        "clear",
        "get_many",
        "set_many",
        "incr",
        "decr",
        "ttl",
        "pttl",
        "has_key",
        "iter_keys",
        "keys",
        "sadd",
        "scard",
        "sdiff",
        "sdiffstore",
        "sinter",
        "sinterstore",
        "smismember",
        "sismember",
        "smembers",
        "smove",
        "spop",
        "srandmember",
        "srem",
        "sscan",
        "sscan_iter",
        "sunion",
        "sunionstore",
        "touch",
        "hset",
        "hdel",
        "hlen",
        "hkeys",
        "hexists",
    ]
)


class _Breaker:
    """Process-wide state: one Redis outage is the same outage for every thread."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self.open_until = 0.0

    def is_open(self) -> bool:
        return time.monotonic() < self.open_until

    def trip(self, error: Exception) -> None:
        seconds = getattr(settings, "NEXUS_CACHE_BREAKER_SECONDS", 5)
        with self._lock:
            if not self.is_open():
                logger.warning("Redis unavailable (%s): cache off for %s s", error, seconds)
            self.open_until = time.monotonic() + seconds

    def reset(self) -> None:
        self.open_until = 0.0


breaker = _Breaker()


class CircuitBreakerClient(DefaultClient):
    def __getattribute__(self, name: str):
        attribute = super().__getattribute__(name)
        if name not in _COMMANDS:
            return attribute

        def guarded(*args, **kwargs):
            if breaker.is_open():
                raise ConnectionInterrupted(connection=None)
            try:
                return attribute(*args, **kwargs)
            except ConnectionInterrupted as error:
                breaker.trip(error)
                raise

        return guarded
