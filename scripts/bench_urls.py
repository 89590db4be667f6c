"""Benchmark URLconf: every project URL plus ``bench/ceiling/``, a bare Django view that
returns constant JSON through the same middleware, the ceiling the API is compared to.

With ``BENCH_COUNT_CACHE=1`` (the mixed run only) the product response cache's lookups are
counted in Redis (``bench:catalog:hit`` / ``bench:catalog:miss``, one INCR each), so the
benchmark can report the catalog cache hit rate under mixed traffic. It wraps
``catalog.views.response_get``; if that name goes away the counters stay at zero and the
benchmark says the hit rate is unknown.
"""

import contextlib
import os

from django.http import JsonResponse
from django.urls import path

from nexus.urls import handler400, handler403, handler404, handler500, urlpatterns

_CONSTANT = {"status": "ok", "items": list(range(10))}


def ceiling(request):
    return JsonResponse(_CONSTANT)


def _count_catalog_cache() -> None:
    from catalog import views

    lookup = getattr(views, "response_get", None)
    if lookup is None or getattr(lookup, "bench_counted", False):
        return
    from django_redis import get_redis_connection

    def counted(*args, **kwargs):
        version, body = lookup(*args, **kwargs)
        with contextlib.suppress(Exception):  # a counter must never fail a request
            get_redis_connection("default").incr(
                "bench:catalog:hit" if body is not None else "bench:catalog:miss"
            )
        return version, body

    counted.bench_counted = True
    views.response_get = counted


if os.environ.get("BENCH_COUNT_CACHE") == "1":
    _count_catalog_cache()

urlpatterns = [path("bench/ceiling/", ceiling), *urlpatterns]
__all__ = ["handler400", "handler403", "handler404", "handler500", "urlpatterns"]
