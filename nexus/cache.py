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
from redis.exceptions import ResponseError

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
        "stamp_stock",
        "stock_stamps",
    ]
)

# A fixed-window counter in one round trip, atomically: create the key at 0 with its
# expiry unless it exists, then count (INCR keeps the expiry). A script runs as one
# command, so the key cannot expire between the two.
_COUNT_WINDOW = (
    "redis.call('SET', KEYS[1], 0, 'EX', ARGV[1], 'NX') return redis.call('INCR', KEYS[1])"
)

# A stock change recorded in one round trip, atomically (catalog/cache.py, ``stock_changed``):
# the stock version (KEYS[1]) moves on and each changed product (ARGV) gets the new version
# as its field of the stamps hash (KEYS[2]). A new hash records ``floor``, the version
# before its first stamp: a change before that is not in it. A missing version (lost to an
# eviction or a restart) is left for the caller to seed from the clock, and the hash is
# deleted with it: its stamps would not tell changes made meanwhile.
_STAMP_STOCK = """
if redis.call('EXISTS', KEYS[1]) == 0 then
  redis.call('DEL', KEYS[2])
  return false
end
local version = redis.call('INCR', KEYS[1])
redis.call('HSETNX', KEYS[2], 'floor', version - 1)
for i = 1, #ARGV do
  redis.call('HSET', KEYS[2], ARGV[i], version)
end
return version
"""


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


def pipelined(client, commands: list[tuple]) -> list:
    """The replies of ``commands`` (EVAL, MGET: commands without a reply callback), sent
    in one packed write on one pooled connection: what ``client.pipeline(transaction=
    False)`` sends and reads, without the pipeline object's per-command bookkeeping
    (137 against 95 us of CPU for a cached hit's count and lookup, docs/PERFORMANCE.md).

    As the pipeline does: every reply is read before an error reply is raised, so the
    connection stays in step with the server; a connection or timeout error drops the
    connection and the attempt goes to the connection's retry policy; whatever else goes
    wrong drops the connection before it returns to the pool."""
    pool = client.connection_pool
    connection = pool.get_connection()

    def attempt() -> list:
        connection.send_packed_command(connection.pack_commands(commands))
        replies = []
        for _ in commands:
            try:
                replies.append(connection.read_response())
            except ResponseError as error:
                replies.append(error)
        return replies

    try:
        replies = connection.retry.call_with_retry(attempt, lambda _error: connection.disconnect())
    except BaseException:
        connection.disconnect()
        raise
    finally:
        pool.release(connection)
    for reply in replies:
        if isinstance(reply, ResponseError):
            raise reply
    return replies


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
        commands = [
            ("EVAL", _COUNT_WINDOW, 1, self.make_key(key, version=version), timeout)
            for key, timeout in counters
        ]
        map_keys = {self.make_key(key, version=version): key for key in keys}
        commands.append(("MGET", *map_keys))
        try:
            *counts, values = pipelined(client, commands)
        except _main_exceptions as error:
            raise ConnectionInterrupted(connection=client) from error
        found = {
            map_keys[key]: self.decode(value)
            for key, value in zip(map_keys, values, strict=True)
            if value is not None
        }
        return [int(count) for count in counts], found

    def stamp_stock(
        self, version_key: str, stamps_key: str, product_ids: list[int], version: int | None = None
    ) -> int | None:
        """Move the stock version ``version_key`` on and stamp each of ``product_ids`` with
        the new version in the hash ``stamps_key``, in one atomic round trip; the new
        version, or None when the version key is missing (the hash is deleted then; the
        caller seeds the version)."""
        client = self.get_client(write=True)
        keys = (
            self.make_key(version_key, version=version),
            self.make_key(stamps_key, version=version),
        )
        try:
            moved = client.eval(_STAMP_STOCK, 2, *keys, *product_ids)
        except _main_exceptions as error:
            raise ConnectionInterrupted(connection=client) from error
        return None if moved is None else int(moved)

    def stock_stamps(
        self, stamps_key: str, fields: list[str], version: int | None = None
    ) -> list[int | None]:
        """The stamps of ``fields`` (``floor`` or product ids) in the hash ``stamps_key``, in
        one round trip: each an int, or None when absent."""
        client = self.get_client(write=False)
        try:
            values = client.hmget(self.make_key(stamps_key, version=version), fields)
        except _main_exceptions as error:
            raise ConnectionInterrupted(connection=client) from error
        return [None if value is None else int(value) for value in values]


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
