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

A ranked search page (no known or cached count) reads its count with its page ids in
one statement (``CachedCountPaginator.page``), not with a COUNT(*) of its own.

Where the denormalised category counts give the exact count (the public list unfiltered
or filtered by ``category`` alone), the view's ``known_count(params)`` returns it and no
COUNT(*) runs at all, cached or not. Where they nearly give it (``category`` and
``price_min``), the view's ``exact_count(params)`` is tried before a COUNT(*) each time
the count is computed.
"""

from collections.abc import Callable, Iterable
from functools import partial

from django.core.paginator import EmptyPage, PageNotAnInteger, Paginator
from django.db.models import Count, Window
from django.utils.functional import cached_property

from catalog.cache import cache_enabled, cached
from nexus.pagination import PageNumberPagination
from nexus.rawsql import unprepared

_NOT_COUNTED = {"page", "page_size", "ordering"}


class CachedCountPaginator(Paginator):
    def __init__(
        self,
        *args,
        count_key: Callable[[], str] | None = None,
        known_count: int | None = None,
        exact_count: Callable[[], int | None] | None = None,
        rows_by_id: Callable[[list[int]], Iterable] | None = None,
        **kwargs,
    ):
        super().__init__(*args, **kwargs)
        self.count_key = count_key
        self.known_count = known_count
        self.exact_count = exact_count
        self.rows_by_id = rows_by_id

    def page(self, number):
        """Django's page, or with ``rows_by_id`` (a ranked search whose count is not
        known or cached; the object list is then a ``selectors.ProductRows``) the page's
        ids with the count in one statement of its products, then its rows.

        A ranked page sorts every match by its rank, so the separate COUNT(*) ran the
        same search a second time: ``SELECT id, COUNT(*) OVER () ... ORDER BY rank DESC,
        id DESC LIMIT/OFFSET`` reads the count from that one scan, and sorts ids rather
        than whole rows joined to their category; ``rows_by_id`` then reads the page's
        rows by primary key, put in the ids' order. Same page, same count; a page past
        the end (no ids) falls back to Django's page, COUNT and errors included.
        """
        if (
            self.rows_by_id is None
            or self.known_count is not None
            or "count" in self.__dict__  # already counted (``page=last``)
            or (self.count_key is not None and cache_enabled())  # counted once, cached
            or self.orphans
            or self.object_list.products.query.distinct  # the window would count duplicates
        ):
            return super().page(number)
        number = self._page_number(number)
        bottom = (number - 1) * self.per_page
        ranked = self.object_list.products.annotate(_matches=Window(Count("*")))
        ids_and_count = list(ranked.values_list("pk", "_matches")[bottom : bottom + self.per_page])
        if not ids_and_count:
            return super().page(number)
        self.__dict__["count"] = ids_and_count[0][1]
        ids = [pk for pk, _ in ids_and_count]
        rows = {row.pk: row for row in self.rows_by_id(ids)}
        return self._get_page([rows[pk] for pk in ids if pk in rows], number, self)

    def _page_number(self, number) -> int:
        """``validate_number``'s checks that need no count (the same errors)."""
        try:
            if isinstance(number, float) and not number.is_integer():
                raise ValueError
            number = int(number)
        except (TypeError, ValueError):
            raise PageNotAnInteger(self.error_messages["invalid_page"]) from None
        if number < 1:
            raise EmptyPage(self.error_messages["min_page"])
        return number

    @cached_property
    def count(self) -> int:
        if self.known_count is not None:
            return self.known_count
        if self.count_key is None:
            return self._counted()
        return cached(self.count_key, self._counted)

    def _counted(self) -> int:
        """``exact_count``'s answer when it has one, else the plain COUNT(*) of Django's
        paginator."""
        exact = self.exact_count() if self.exact_count is not None else None
        return exact if exact is not None else Paginator.count.func(self)


class CatalogPagination(PageNumberPagination):
    """``page``/``page_size`` pagination; the view provides ``count_cache_key(params)``."""

    def paginate_queryset(self, queryset, request, view=None):
        key = known = exact = None
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
            if known is None and hasattr(view, "exact_count"):
                exact = view.exact_count(params)
        rows_by_id = view.page_rows_by_id(queryset) if hasattr(view, "page_rows_by_id") else None
        self.django_paginator_class = partial(
            CachedCountPaginator,
            count_key=key,
            known_count=known,
            exact_count=exact,
            rows_by_id=rows_by_id,
        )
        if rows_by_id is None:
            return super().paginate_queryset(queryset, request, view)
        # A ranked search is planned per call, never prepared: the planner folds its
        # ``to_tsquery`` into a constant only when it sees the value (a prepared generic
        # plan evaluated it per matching row: 11-13 ms became 16-19, docs/PERFORMANCE.md).
        with unprepared(queryset.products.db):
            return super().paginate_queryset(queryset, request, view)
