"""Benchmark URLconf: every project URL plus ``bench/ceiling/``, a bare Django view that
returns constant JSON through the same middleware, the ceiling the API is compared to."""

from django.http import JsonResponse
from django.urls import path

from nexus.urls import handler400, handler403, handler404, handler500, urlpatterns

_CONSTANT = {"status": "ok", "items": list(range(10))}


def ceiling(request):
    return JsonResponse(_CONSTANT)


urlpatterns = [path("bench/ceiling/", ceiling), *urlpatterns]
__all__ = ["handler400", "handler403", "handler404", "handler500", "urlpatterns"]
