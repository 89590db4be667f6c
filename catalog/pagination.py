"""Pagination of catalog lists whose ``count`` is cached per catalog version.

Why not COUNT(*) per request: at 100,000 products every uncached page would pay a count
over the whole filtered set. Why not the PostgreSQL planner estimate: it is only an
estimate, so ``count``, the last page and ``next`` would be wrong, and it cannot estimate
filtered or searched lists well. Instead the exact count is computed once per distinct
filter set (page, page_size and ordering excluded: they do not change it) and cached
under the catalog version; any catalog write bumps the version, so the count is
recomputed on the next request after a change and is exact at all times.
"""

from functools import partial

from django.core.paginator import Paginator
from django.utils.functional import cached_property

from catalog.cache import cached
from nexus.pagination import PageNumberPagination

_NOT_COUNTED = {"page", "page_size", "ordering"}


class CachedCountPaginator(Paginator):
    def __init__(self, *args, count_key: str | None = None, **kwargs):
        super().__init__(*args, **kwargs)
        self.count_key = count_key

    @cached_property
    def count(self) -> int:
        uncached = Paginator.count.func  # the plain COUNT(*) of Django's paginator
        if self.count_key is None:
            return uncached(self)
        return cached(self.count_key, lambda: uncached(self))


class CatalogPagination(PageNumberPagination):
    """``page``/``page_size`` pagination; the view provides ``count_cache_key(params)``."""

    def paginate_queryset(self, queryset, request, view=None):
        key = None
        if view is not None and hasattr(view, "count_cache_key"):
            params = sorted(
                (name, value)
                for name, values in request.query_params.lists()
                if name not in _NOT_COUNTED
                for value in values
            )
            key = view.count_cache_key(repr(params))
        self.django_paginator_class = partial(CachedCountPaginator, count_key=key)
        return super().paginate_queryset(queryset, request, view)
