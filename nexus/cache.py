"""A circuit breaker in front of Redis.

The cache ignores Redis errors (a dead Redis means uncached answers, never a 500), but a
Redis that *hangs* (frozen process, black-holed network) made every cache call wait out
its socket timeout, so each request paid several timeouts: seconds per request in the
frozen-Redis drill. After a connection error this client answers "unavailable" at once
for ``NEXUS_CACHE_BREAKER_SECONDS``, then lets one call through to probe; the cache
comes back by itself when Redis does, without restarting anything.
"""

import functools
import logging
import threading
import time

from django.conf import settings
from django_redis.client import DefaultClient
from django_redis.client.default import _main_exceptions
from django_redis.exceptions import ConnectionInterrupted

from nexus import metrics

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
        "count_window",
        "count_and_get_many",
    ]
)

# A fixed-window counter in one round trip, atomically: create the key at 0 with its
# expiry unless it exists, then count (INCR keeps the expiry). A script runs as one
# command, so the key cannot expire between the two.
_COUNT_WINDOW = (
    "redis.call('SET', KEYS[1], 0, 'EX', ARGV[1], 'NX') return redis.call('INCR', KEYS[1])"
)


class _Breaker:
    """Process-wide state: one Redis outage is the same outage for every thread."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self.open_until = 0.0

    def is_open(self) -> bool:
        return time.monotonic() < self.open_until

    def trip(self, error: Exception) -> None:
        seconds = settings.NEXUS_CACHE_BREAKER_SECONDS
        with self._lock:
            if not self.is_open():
                logger.warning("Redis unavailable (%s): cache off for %s s", error, seconds)
                metrics.CACHE_BREAKER_TRIPS.inc()
            self.open_until = time.monotonic() + seconds

    def reset(self) -> None:
        self.open_until = 0.0


breaker = _Breaker()


def _guarded(name: str, method):
    """``method`` behind the breaker: refused at once while it is open, and a connection
    error trips it; every call is counted (``CACHE_CALLS``, ``CACHE_LOOKUPS``)."""

    @functools.wraps(method)
    def guarded(self, *args, **kwargs):
        if breaker.is_open():
            metrics.CACHE_CALLS.labels(command=name, outcome="skipped").inc()
            raise ConnectionInterrupted(connection=None)
        try:
            result = method(self, *args, **kwargs)
        except ConnectionInterrupted as error:
            metrics.CACHE_CALLS.labels(command=name, outcome="error").inc()
            breaker.trip(error)
            raise
        metrics.CACHE_CALLS.labels(command=name, outcome="ok").inc()
        _count_lookups(name, args, kwargs, result)
        return result

    return guarded


class CircuitBreakerClient(DefaultClient):
    """django-redis's client with every command of ``_COMMANDS`` behind the breaker.

    The commands are wrapped once, on the class (below it), not on every attribute read:
    a ``__getattribute__`` that built the wrapper per access cost every attribute read
    of the client a Python call, about 30 of them per cached hit."""

    def count_window(self, key: str, timeout: int, version: int | None = None) -> int:
        """Count one more in the window counter ``key`` (created with ``timeout``
        seconds to live when missing) and return the count: the throttles' check, one
        round trip instead of an ``add`` and an ``incr`` (nexus/throttles.py)."""
        client = self.get_client(write=True)
        try:
            count = client.eval(_COUNT_WINDOW, 1, self.make_key(key, version=version), timeout)
        except _main_exceptions as error:
            raise ConnectionInterrupted(connection=client) from error
        return int(count)

    def count_and_get_many(
        self,
        counters: list[tuple[str, int]],
        keys: list[str],
        version: int | None = None,
    ) -> tuple[list[int], dict]:
        """Count one more in each window counter ``(key, timeout)``, as ``count_window``
        does, and read ``keys``, as ``get_many`` does, in one round trip: a pipeline (not
        a transaction) of the counting scripts and one ``MGET``. Each count is as atomic
        as ``count_window``'s; the read sees the counters' writes or not, which it never
        looks at. The cached hits' throttle check and lookup (catalog/views.py)."""
        client = self.get_client(write=True)
        pipe = client.pipeline(transaction=False)
        for key, timeout in counters:
            pipe.eval(_COUNT_WINDOW, 1, self.make_key(key, version=version), timeout)
        map_keys = {self.make_key(key, version=version): key for key in keys}
        pipe.mget(*map_keys)
        try:
            *counts, values = pipe.execute()
        except _main_exceptions as error:
            raise ConnectionInterrupted(connection=client) from error
        found = {
            map_keys[key]: self.decode(value)
            for key, value in zip(map_keys, values, strict=True)
            if value is not None
        }
        return [int(count) for count in counts], found


for _name in _COMMANDS:
    if hasattr(CircuitBreakerClient, _name):
        setattr(CircuitBreakerClient, _name, _guarded(_name, getattr(CircuitBreakerClient, _name)))


def _count_lookups(name: str, args, kwargs, result) -> None:
    if name == "get":
        default = kwargs.get("default", args[1] if len(args) > 1 else None)
        metrics.CACHE_LOOKUPS.labels(result="miss" if result is default else "hit").inc()
    elif name in ("get_many", "count_and_get_many"):
        if name == "get_many":
            keys = kwargs.get("keys", args[0] if args else ())
            hits = len(result)
        else:
            keys = kwargs.get("keys", args[1] if len(args) > 1 else ())
            hits = len(result[1])
        metrics.CACHE_LOOKUPS.labels(result="hit").inc(hits)
        metrics.CACHE_LOOKUPS.labels(result="miss").inc(max(len(keys) - hits, 0))
