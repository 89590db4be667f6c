"""Pagination of catalog lists whose ``count`` is cached per catalog version.

Why not COUNT(*) per request: at 100,000 products every uncached page would pay a count
over the whole filtered set. Why not the PostgreSQL planner estimate: it is only an
estimate, so ``count``, the last page and ``next`` would be wrong, and it cannot estimate
filtered or searched lists well. Instead the exact count is computed once per distinct
filter set (page, page_size and ordering excluded: they do not change it) and cached
under the catalog version; any catalog write bumps the version, so the count is
recomputed on the next request after a change and is exact at all times. Stock changes
do not bump it (a count does not change with stock), except for ``in_stock`` filtered
lists, whose counts are keyed by the stock version too (``product_count_key``).

Where the denormalised category counts give the exact count (the public list unfiltered
or filtered by ``category`` alone), the view's ``known_count(params)`` returns it and no
COUNT(*) runs at all, cached or not.
"""

from collections.abc import Callable
from functools import partial

from django.core.paginator import Paginator
from django.utils.functional import cached_property

from catalog.cache import cached
from nexus.pagination import PageNumberPagination

_NOT_COUNTED = {"page", "page_size", "ordering"}


class CachedCountPaginator(Paginator):
    def __init__(
        self,
        *args,
        count_key: Callable[[], str] | None = None,
        known_count: int | None = None,
        **kwargs,
    ):
        super().__init__(*args, **kwargs)
        self.count_key = count_key
        self.known_count = known_count

    @cached_property
    def count(self) -> int:
        if self.known_count is not None:
            return self.known_count
        uncached = Paginator.count.func  # the plain COUNT(*) of Django's paginator
        if self.count_key is None:
            return uncached(self)
        return cached(self.count_key, lambda: uncached(self))


class CatalogPagination(PageNumberPagination):
    """``page``/``page_size`` pagination; the view provides ``count_cache_key(params)``."""

    def paginate_queryset(self, queryset, request, view=None):
        key = known = None
        query = view.cache_query() if hasattr(view, "cache_query") else None
        if query is not None and hasattr(view, "count_cache_key"):
            # Unknown parameters (query None) are counted uncached: no entry per junk value.
            params = [(name, value) for name, value in query if name not in _NOT_COUNTED]
            # Built only when the count is read from the cache: the key reads the
            # catalog version (a Redis round trip), which a known or uncached count
            # does not need.
            key = partial(view.count_cache_key, repr(params))
            if hasattr(view, "known_count"):
                known = view.known_count(params)
        self.django_paginator_class = partial(
            CachedCountPaginator, count_key=key, known_count=known
        )
        return super().paginate_queryset(queryset, request, view)
