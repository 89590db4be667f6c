"""Django's per-request signal work, kept to what can act in this configuration.

Every request sends ``request_started`` and ``request_finished``, and Django connects
receivers to both that, in production, do nothing but cost time: ``reset_queries``
empties the query log of every open connection, a log that is written only when
``DEBUG`` is on or a test captures queries; ``close_caches`` calls ``close()`` on every
cache in use, which for the local-memory cache and for django-redis without
``CLOSE_CONNECTION`` returns at once. Each still walks the open connections or caches
(a thread-local lookup per alias) on every request: together about 7 µs of the ceiling
view's ~135 µs of CPU (docs/PERFORMANCE.md).

``install()`` (``NexusConfig.ready``) disconnects each where it cannot act, and connects
it again when a setting it depends on changes (``override_settings`` in tests):

- ``reset_queries`` while ``DEBUG`` is off. Django's ``CaptureQueriesContext`` (and so
  ``assertNumQueries``) disconnects it while it counts and connects it when it is done,
  so after a test captured queries it is connected again, as in stock Django.
- ``close_caches`` while every configured cache's ``close()`` is known to do nothing.

``close_old_connections`` (the connection health and age checks) and ``reset_urlconf``
always act and stay as Django connects them.
"""

from django.conf import settings
from django.core import signals
from django.core.cache import BaseCache, close_caches
from django.core.signals import setting_changed
from django.db import reset_queries
from django.utils.module_loading import import_string
from django_redis.cache import RedisCache
from django_redis.client import DefaultClient

# The settings each decision reads.
_WATCHED = frozenset({"DEBUG", "CACHES", "DJANGO_REDIS_CLOSE_CONNECTION"})


def _close_is_noop(config: dict) -> bool:
    """Whether ``close()`` of a cache configured as ``config`` never does anything."""
    try:
        backend = import_string(config["BACKEND"])
    except (ImportError, KeyError):
        return False
    if backend.close is BaseCache.close:
        return True
    if not (isinstance(backend, type) and issubclass(backend, RedisCache)):
        return False
    if backend.close is not RedisCache.close:
        return False
    options = config.get("OPTIONS") or {}
    try:
        client = import_string(options.get("CLIENT_CLASS", "django_redis.client.DefaultClient"))
    except ImportError:
        return False
    if client.close is not DefaultClient.close:
        return False
    # DefaultClient.close closes its connections only with this flag.
    return not options.get(
        "CLOSE_CONNECTION", getattr(settings, "DJANGO_REDIS_CLOSE_CONNECTION", False)
    )


def caches_close_noop() -> bool:
    return all(_close_is_noop(config) for config in settings.CACHES.values())


def _connected(signal, receiver, wanted: bool) -> None:
    if wanted:
        signal.connect(receiver)  # a no-op when already connected
    else:
        signal.disconnect(receiver)


def apply() -> None:
    """Connect Django's receivers where they can act, disconnect them where they cannot."""
    _connected(signals.request_started, reset_queries, bool(settings.DEBUG))
    _connected(signals.request_finished, close_caches, not caches_close_noop())


def _setting_changed(*, setting: str, **_kwargs) -> None:
    if setting in _WATCHED:
        apply()


def install() -> None:
    apply()
    setting_changed.connect(_setting_changed, dispatch_uid="nexus.requestcycle")
