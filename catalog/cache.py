"""The catalog's cache: a version number bumped after every committed catalog write, and
helpers that key cached responses, counts and the category tree by that version.

Entries are never deleted one by one: a write bumps the version (in ``on_commit``, so the
next read after the commit sees the new data) and older entries simply stop being read
and expire. The version key itself never expires; if it is lost (Redis restarted or
evicted it) it is re-seeded from the clock, so it can never fall back to a value that old
entries still carry. Cache errors are ignored by the Redis backend (IGNORE_EXCEPTIONS): a
dead Redis means uncached responses, not failed ones.
"""

import hashlib
import time
from collections.abc import Callable
from typing import Any

from django.conf import settings
from django.core.cache import cache
from django.db import transaction

VERSION_KEY = "catalog:version"


def cache_enabled() -> bool:
    """Whether catalog responses and counts are cached.

    ``NEXUS_CATALOG_CACHE`` (a setting) decides when set. By default caching is on only
    with a shared cache (Redis): a per-process LocMemCache would keep serving a write's
    old data from the other gunicorn workers, which never see the version bump.
    """
    configured = getattr(settings, "NEXUS_CATALOG_CACHE", None)
    if configured is not None:
        return bool(configured)
    backend = settings.CACHES["default"]["BACKEND"]
    return not backend.endswith(("LocMemCache", "DummyCache"))


def cache_timeout() -> int:
    return int(getattr(settings, "NEXUS_CATALOG_CACHE_SECONDS", 300))


def catalog_version() -> int:
    """The current catalog version (seeded from the clock when missing)."""
    version = cache.get(VERSION_KEY)
    if version is None:
        seed = time.time_ns() // 1000
        cache.add(VERSION_KEY, seed, timeout=None)
        version = cache.get(VERSION_KEY) or seed
    return int(version)


def _bump() -> None:
    try:
        cache.incr(VERSION_KEY)
    except ValueError:  # missing key: start from the clock, never from a stale number
        cache.set(VERSION_KEY, time.time_ns() // 1000, timeout=None)


def catalog_changed() -> None:
    """Invalidate every cached catalog read once the current transaction commits."""
    transaction.on_commit(_bump)


def versioned_key(kind: str, raw: str, version: int | None = None) -> str:
    digest = hashlib.sha1(raw.encode(), usedforsecurity=False).hexdigest()
    return f"catalog:v{version if version is not None else catalog_version()}:{kind}:{digest}"


def _response_key(kind: str, raw: str) -> str:
    digest = hashlib.sha1(raw.encode(), usedforsecurity=False).hexdigest()
    return f"catalog:response:{kind}:{digest}"


def response_get(kind: str, raw: str) -> tuple[int, bytes | None]:
    """(current version, cached body or None) in one round trip (MGET).

    A response is stored as ``(version, body)`` under a key without the version, so the
    version and the entry come back together; an entry of another version is a miss. The
    version is read before the response is computed, so a write committed meanwhile
    makes that response stale at once instead of being hidden under the new version.
    """
    key = _response_key(kind, raw)
    values = cache.get_many([VERSION_KEY, key])
    version = values.get(VERSION_KEY)
    if version is None:
        version = catalog_version()
    entry = values.get(key)
    if entry is not None and entry[0] == version:
        return version, entry[1]
    return version, None


def response_set(kind: str, raw: str, version: int, body: bytes) -> None:
    cache.set(_response_key(kind, raw), (version, body), timeout=cache_timeout())


def cached(key: str, compute: Callable[[], Any]) -> Any:
    """``compute()`` memoised under ``key`` (when caching is on)."""
    if not cache_enabled():
        return compute()
    value = cache.get(key)
    if value is None:
        value = compute()
        cache.set(key, value, timeout=cache_timeout())
    return value
