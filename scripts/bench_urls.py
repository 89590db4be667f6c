"""Benchmark URLconf: every project URL plus ``bench/ceiling/``, a bare Django view that
returns constant JSON through the same middleware, the ceiling the API is compared to.

With ``BENCH_COUNT_CACHE=1`` (the mixed run only) the product response cache's lookups are
counted in Redis (``bench:catalog:hit`` / ``bench:catalog:miss``, one INCR each), so the
benchmark can report the catalog cache hit rate under mixed traffic. It wraps
``catalog.views.response_get`` and ``catalog.views.response_get_counted``; if those names
go away the counters stay at zero and the benchmark says the hit rate is unknown.
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
    from django_redis import get_redis_connection

    from catalog import views

    def count(body) -> None:
        with contextlib.suppress(Exception):  # a counter must never fail a request
            get_redis_connection("default").incr(
                "bench:catalog:hit" if body is not None else "bench:catalog:miss"
            )

    # A request makes one of the two lookups: ``response_get_counted`` when it comes
    # without credentials (the fast path; a miss there is not looked up again),
    # ``response_get`` otherwise.
    lookup = getattr(views, "response_get", None)
    if lookup is not None and not getattr(lookup, "bench_counted", False):

        def counted(*args, **kwargs):
            version, body = lookup(*args, **kwargs)
            count(body)
            return version, body

        counted.bench_counted = True
        views.response_get = counted

    lookup_counted = getattr(views, "response_get_counted", None)
    if lookup_counted is not None and not getattr(lookup_counted, "bench_counted", False):

        def counted_too(*args, **kwargs):
            version, body, counts = lookup_counted(*args, **kwargs)
            count(body)
            return version, body, counts

        counted_too.bench_counted = True
        views.response_get_counted = counted_too


if os.environ.get("BENCH_COUNT_CACHE") == "1":
    _count_catalog_cache()

urlpatterns = [path("bench/ceiling/", ceiling), *urlpatterns]
__all__ = ["handler400", "handler403", "handler404", "handler500", "urlpatterns"]
