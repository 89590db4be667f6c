"""The catalog's cache: a version number bumped after every committed catalog write, and
helpers that key cached responses, counts and the category tree by that version.

Entries are never deleted one by one: a write bumps the version (in ``on_commit``, so the
next read after the commit sees the new data) and older entries simply stop being read
and expire. The version keys themselves never expire; if one is lost (Redis restarted or
evicted it) it is re-seeded from the clock, so it can never fall back to a value that old
entries still carry. Cache errors are ignored by the Redis backend (IGNORE_EXCEPTIONS): a
dead Redis means uncached responses, not failed ones.

Stock has a version of its own (issue 18). Checkouts, cancellations, expiries and staff
stock adjustments change nothing but stock levels, and under checkout traffic bumping the
catalog version for each of them emptied the product cache every few hundred
milliseconds. They call ``stock_changed`` instead, which bumps only the stock version. A
cached product body records the stock version its ``stock_quantity`` and ``in_stock``
fields were read at. A hit under a newer stock version first asks Redis whether any of
its products' stock changed since then (``stock_unchanged_since``: each stock change
stamps its products with the version it made, ``STOCK_STAMPS_KEY``); if none did, the
body is served as stored, with no query and no write. Otherwise (or when the stamps
cannot tell: no Redis, stamps lost) the hit re-reads the stock from the database (one
query), rewrites the fields if they changed and stores the entry again under the current
stock version, so the hits after it run no query (``ProductViewSet``). The stock version
is read before the stock, so an entry never claims a version newer than its figures.
Only responses whose membership depends on stock (the ``in_stock`` filter, and its
counts) are keyed by the stock version as well (``response_get(stock=True)``,
``stock_version``).

Responses are keyed on the query parameters the endpoint recognises, normalised
(``query_key``); a request with any other parameter is answered without touching the
cache, so ``?junk=<random>`` cannot fill Redis with copies of one response.
"""

import hashlib
import time
from collections.abc import Callable, Iterable
from typing import Any, NamedTuple

from django.conf import settings
from django.core.cache import cache
from django.db import transaction
from django_redis.exceptions import ConnectionInterrupted

VERSION_KEY = "catalog:version"
STOCK_VERSION_KEY = "catalog:stock-version"
# A Redis hash: product id -> the stock version its last stock change made, and ``floor``
# (nexus.cache.CircuitBreakerClient.stamp_stock). It never expires; it is as large as the
# number of products whose stock ever changed (a few MB at 100,000).
STOCK_STAMPS_KEY = "catalog:stock-stamps"


def cache_enabled() -> bool:
    """Whether catalog responses and counts are cached.

    ``NEXUS_CATALOG_CACHE`` (a setting) decides when set. By default caching is on only
    with a shared cache (Redis): a per-process LocMemCache would keep serving a write's
    old data from the other gunicorn workers, which never see the version bump.
    """
    configured = settings.NEXUS_CATALOG_CACHE
    if configured is not None:
        return bool(configured)
    backend = settings.CACHES["default"]["BACKEND"]
    return not backend.endswith(("LocMemCache", "DummyCache"))


def cache_timeout() -> int:
    return int(settings.NEXUS_CATALOG_CACHE_SECONDS)


def _version(key: str) -> int:
    version = cache.get(key)
    if version is None:
        seed = time.time_ns() // 1000
        cache.add(key, seed, timeout=None)
        version = cache.get(key) or seed
    return int(version)


def catalog_version() -> int:
    """The current catalog version (seeded from the clock when missing)."""
    return _version(VERSION_KEY)


def stock_version() -> int:
    """The current stock version (seeded from the clock when missing)."""
    return _version(STOCK_VERSION_KEY)


def _bump(key: str = VERSION_KEY) -> None:
    try:
        cache.incr(key)
    except ValueError:  # missing key: start from the clock, never from a stale number
        cache.set(key, time.time_ns() // 1000, timeout=None)


def catalog_changed() -> None:
    """Invalidate every cached catalog read once the current transaction commits."""
    transaction.on_commit(_bump)


def stock_changed(*, product_ids: Iterable[int]) -> None:
    """Invalidate the cached reads that depend on stock levels (``in_stock`` filtered
    lists and their counts) once the current transaction commits, and record which
    products' stock changed. Every other cached product response stays: a hit that
    shows one of ``product_ids`` re-reads its stock fields, the others are served as
    they are (``stock_unchanged_since``)."""
    ids = sorted({int(pk) for pk in product_ids})
    transaction.on_commit(lambda: _stock_bump(ids))


def _stock_bump(product_ids: list[int]) -> None:
    """The stock version moved on, with the products stamped where the cache can (Redis)."""
    stamp = getattr(getattr(cache, "client", None), "stamp_stock", None)
    if stamp is not None:
        try:
            if stamp(STOCK_VERSION_KEY, STOCK_STAMPS_KEY, product_ids) is not None:
                return
        except ConnectionInterrupted:
            return  # as ``_bump``: the cache ignores a Redis outage
    _bump(STOCK_VERSION_KEY)  # no stamps: every entry's stock is re-read


def stock_unchanged_since(checked: int, product_ids: Iterable[int]) -> bool:
    """Whether the stamps show that no stock of ``product_ids`` changed after stock
    version ``checked``: one Redis round trip. False whenever they cannot tell: not
    Redis, no stamps as old as ``checked`` (``floor``), Redis unavailable. A product
    stamped at ``checked`` or before is unchanged since: an entry's version is read
    before its stock, and a change moves the version after its commit."""
    read = getattr(getattr(cache, "client", None), "stock_stamps", None)
    if read is None:
        return False
    try:
        floor, *stamps = read(STOCK_STAMPS_KEY, ["floor", *map(str, product_ids)])
    except ConnectionInterrupted:
        return False
    if floor is None or floor > checked:
        return False
    return all(stamp is None or stamp <= checked for stamp in stamps)


def versioned_key(kind: str, raw: str, version: int | None = None) -> str:
    digest = hashlib.sha1(raw.encode(), usedforsecurity=False).hexdigest()
    return f"catalog:v{version if version is not None else catalog_version()}:{kind}:{digest}"


# Values that mean "not given": the same response as leaving the parameter out.
_DEFAULTS = {"page": "1"}
_INTEGER_PARAMS = {"page", "page_size"}
# Repeatable filters (``option=Size:M&option=Color:Red``): every value counts, in any order.
_REPEATABLE_PARAMS = {"option", "attribute"}


def query_key(query_params, recognised: set[str] | frozenset[str]) -> list[tuple[str, str]] | None:
    """The request's query as a canonical, sorted list of (name, value), or None when it
    holds a parameter outside ``recognised`` (then nothing may be cached for it).

    Normalised as the views read it: the last value of a repeated parameter (every value,
    sorted, of the repeatable ``option`` and ``attribute``), empty values dropped
    (django-filter and the paginator ignore them), integers without leading zeros,
    defaults (``page=1``) dropped.
    """
    canonical = []
    for name in query_params:
        if name not in recognised:
            return None
        if name in _REPEATABLE_PARAMS:
            canonical.extend((name, value) for value in query_params.getlist(name) if value)
            continue
        value = query_params.getlist(name)[-1]
        if name in _INTEGER_PARAMS and value.isdigit():
            value = str(int(value))
        if value == "" or _DEFAULTS.get(name) == value:
            continue
        canonical.append((name, value))
    return sorted(canonical)


# The format of response entries, part of their keys: a deploy that changes what an entry
# holds (2: the body with the stock levels it was rendered with, issue 18; 3: also the
# stock version those levels were read at and the product ids; 4: also the body's ETag,
# nexus.middleware.body_etag) starts on new keys, so old and new code running side by
# side never read each other's entries.
_RESPONSE_FORMAT = 4


def _response_key(kind: str, raw: str) -> str:
    digest = hashlib.sha1(raw.encode(), usedforsecurity=False).hexdigest()
    return f"catalog:response:{_RESPONSE_FORMAT}:{kind}:{digest}"


class ResponseVersion(NamedTuple):
    """The versions ``response_get`` read with the entry."""

    # What a current entry carries: the catalog version, or with ``stock`` the pair
    # (catalog version, stock version).
    entry: Any
    # The current stock version (a cached product body records the one its stock
    # fields were read at).
    stock: int


def response_get(kind: str, raw: str, *, stock: bool = False) -> tuple[ResponseVersion, Any]:
    """(the current versions, cached value or None) in one round trip (MGET).

    A response is stored as ``(version, value)`` under a key without the version, so the
    versions and the entry come back together; an entry of another version is a miss.
    The versions are read before the response is computed, so a write committed
    meanwhile makes that response stale at once instead of being hidden under the new
    version. With ``stock`` the entry's version is the pair (catalog version, stock
    version): for responses whose membership depends on stock levels.
    """
    key = _response_key(kind, raw)
    return _response_entry(key, cache.get_many([VERSION_KEY, STOCK_VERSION_KEY, key]), stock)


def response_get_counted(
    kind: str, raw: str, counters: list[tuple[str, int]], *, stock: bool = False
) -> tuple[ResponseVersion, Any, list[int]]:
    """``response_get``, and one more counted in each throttle window counter ``(key,
    timeout)`` (nexus.throttles), in the same single round trip: (versions, value or
    None, counts). Only with Redis (``counting_lookups``); raises ``ConnectionInterrupted``
    when Redis is unavailable (the caller then takes the ordinary path, which fails open
    as the cache and the throttles do)."""
    key = _response_key(kind, raw)
    counts, values = cache.client.count_and_get_many(
        counters, [VERSION_KEY, STOCK_VERSION_KEY, key]
    )
    version, value = _response_entry(key, values, stock)
    return version, value, counts


def counting_lookups() -> bool:
    """Whether the cache can count and look up in one round trip (Redis, nexus.cache)."""
    return hasattr(getattr(cache, "client", None), "count_and_get_many")


def _response_entry(key: str, values: dict, stock: bool) -> tuple[ResponseVersion, Any]:
    catalog = values.get(VERSION_KEY)
    if catalog is None:
        catalog = catalog_version()
    stock_now = values.get(STOCK_VERSION_KEY)
    if stock_now is None:
        stock_now = stock_version()
    version = ResponseVersion((catalog, stock_now) if stock else catalog, stock_now)
    entry = values.get(key)
    if entry is not None and entry[0] == version.entry:
        return version, entry[1]
    return version, None


def response_set(kind: str, raw: str, version: ResponseVersion, value: Any) -> None:
    cache.set(_response_key(kind, raw), (version.entry, value), timeout=cache_timeout())


def cached(key: str | Callable[[], str], compute: Callable[[], Any]) -> Any:
    """``compute()`` memoised under ``key`` (when caching is on). ``key`` may be a function
    returning it: a versioned key reads the catalog version from Redis, a round trip an
    uncached request (caching off) need not pay."""
    if not cache_enabled():
        return compute()
    if callable(key):
        key = key()
    value = cache.get(key)
    if value is None:
        value = compute()
        cache.set(key, value, timeout=cache_timeout())
    return value
