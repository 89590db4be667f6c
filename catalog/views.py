"""Catalog endpoints: categories, products (list/detail cached for the public), product
images, staff variant endpoints and stock adjustments. Thin: validate, call a selector or
a service, serialize."""

import json
from collections.abc import Callable, Iterable
from decimal import Decimal, InvalidOperation
from urllib.parse import urlencode

from django.conf import settings
from django.http import HttpResponse
from django_filters.utils import translate_validation
from django_redis.exceptions import ConnectionInterrupted
from drf_spectacular.utils import OpenApiParameter, OpenApiResponse, extend_schema
from rest_framework import generics, status, viewsets
from rest_framework.decorators import action
from rest_framework.exceptions import APIException, NotAcceptable
from rest_framework.parsers import MultiPartParser
from rest_framework.response import Response
from rest_framework.views import APIView

from catalog import selectors, services
from catalog.cache import (
    cache_enabled,
    counting_lookups,
    query_key,
    response_get,
    response_get_counted,
    response_set,
    stock_unchanged_since,
)
from catalog.filters import CategoryFilter, ProductFilter, ProductFilterBackend
from catalog.models import Category, Product, ProductVariant
from catalog.pagination import CatalogPagination
from catalog.selectors import ProductRow
from catalog.serializers import (
    CategorySerializer,
    CategoryWriteSerializer,
    ProductImageSerializer,
    ProductImageUploadSerializer,
    ProductSerializer,
    ProductVariantSerializer,
    ProductWriteSerializer,
    StockAdjustSerializer,
    VariantCreateSerializer,
    VariantUpdateSerializer,
    category_data,
    product_data,
)
from nexus.middleware import ETAG_ATTRIBUTE, body_etag
from nexus.openapi import NO_BODY
from nexus.permissions import IsStaff, IsStaffOrReadOnly, is_staff
from nexus.renderers import render_json
from nexus.throttles import AtomicRateThrottleMixin

_ID_OR_SLUG = OpenApiParameter(
    "id_or_slug", str, OpenApiParameter.PATH, description="The product's id or slug."
)


# ``_cached_hit``'s content negotiation by (Accept header, renderer classes): the
# (renderer, media type) DRF chose, or False for 406. Bounded: headers are the client's.
_NEGOTIATED: dict[tuple, tuple | bool] = {}
# A product list with only these parameters has no filter and the default order: its page
# is read by ``selectors.ProductListPage``, with no filter set and no queryset built.
_PAGE_PARAMS = frozenset({"page", "page_size"})
_NEGOTIATED_MAX = 256


def _public_cache_url(request, recognised: set[str]) -> str | None:
    """The cache key URL of a public catalog read (its path and normalised recognised
    query), or None when it must not be cached: caching off, a staff caller, or a
    parameter outside ``recognised``."""
    if not cache_enabled() or is_staff(request):
        return None
    query = query_key(request.query_params, recognised)
    if query is None:
        return None
    return f"{request.build_absolute_uri(request.path)}?{urlencode(query)}"


# --------------------------------------------------------------------------- cached hits


class CachedHitMixin:
    """Answer a fresh cached public read (list or detail) before DRF's whole cycle.

    For a viewset whose public ``list`` and ``retrieve`` are cached as rendered bodies
    (``catalog.cache.response_set``): ``_cached_hit`` finds the entry and counts the
    anonymous throttle in one Redis round trip and answers from it, doing what DRF's
    cycle would have done before the view in DRF's order with DRF's own methods; a miss,
    a stale entry or a throttled request goes on to DRF's cycle with the lookup and the
    count made here (``_looked_up``, the throttles' ``precounted``). The viewset says
    what its entries are: ``_hit_kind`` (the cache kind of this action),
    ``_cache_recognised`` (the query parameters a cached read may carry),
    ``_stock_filtered``, ``_hit_entry`` and ``_hit_response``.
    """

    # The lookup ``_cached_hit`` made and could not answer from: (cache URL, versions,
    # entry or None), used by ``_cached_response`` instead of looking up again.
    _looked_up: tuple | None = None

    def dispatch(self, request, *args, **kwargs):
        """A fresh cached hit for a GET without credentials is answered by
        ``_cached_hit``, without DRF's whole request cycle; everything else goes through
        DRF as before."""
        response = self._cached_hit(request, *args, **kwargs)
        if response is not None:
            return response
        return super().dispatch(request, *args, **kwargs)

    def _cached_hit(self, request, *args, **kwargs) -> HttpResponse | None:
        """The cached public list or detail for a GET that carries no credentials, with
        the anonymous throttle counted in the same Redis round trip as the lookup; None
        when DRF's cycle must answer (then with the count and the lookup made here, so
        the request is counted once and looked up once).

        Everything DRF's cycle does before the view runs is done, in its order, with
        DRF's own methods: the same ``Request``, content negotiation (406 goes to DRF),
        authentication (without an ``Authorization`` header, a session cookie or a
        test client's forced user the JWT authenticator leaves the caller anonymous, so
        it is never staff; any of them goes to DRF), the permissions, every throttle
        (each must be an ``AtomicRateThrottleMixin``, counted as its own check counts;
        one over its limit goes to DRF, which answers 429 from the count made here),
        and ``finalize_response`` (``Allow``). The body is the one ``_cached_response``
        would serve: only a current entry that ``_hit_entry`` gives back is served here (a
        product entry whose stock fields are those of the current stock version).
        """
        meta = request.META
        if (
            request.method != "GET"
            or "HTTP_AUTHORIZATION" in meta
            or settings.SESSION_COOKIE_NAME in request.COOKIES
            or getattr(request, "_force_auth_user", None) is not None
            or getattr(request, "_force_auth_token", None) is not None
            or self.action_map.get("get") not in ("list", "retrieve")
            or self.versioning_class is not None
            or not cache_enabled()
            or not counting_lookups()
        ):
            return None
        self.args, self.kwargs = args, kwargs
        drf_request = self.initialize_request(request, *args, **kwargs)  # sets self.action
        self.request = drf_request
        self.headers = self.default_response_headers
        try:
            self.format_kwarg = self.get_format_suffix(**kwargs)
            negotiated = self._negotiated(drf_request)
            drf_request.accepted_renderer, drf_request.accepted_media_type = negotiated
            drf_request.version, drf_request.versioning_scheme = None, None
            if drf_request.user.is_authenticated:
                return None
            self.check_permissions(drf_request)
        except APIException:
            return None
        url = _public_cache_url(drf_request, self._cache_recognised())
        if url is None:
            return None
        throttles = []
        for throttle in self.get_throttles():
            if not isinstance(throttle, AtomicRateThrottleMixin):
                return None
            if throttle.rate is None:
                continue
            throttle.key = throttle.get_cache_key(drf_request, self)
            if throttle.key is not None:
                throttle.now = throttle.timer()
                throttles.append(throttle)
        kind = self._hit_kind()
        counters = [(throttle.window_key(), throttle.window_timeout) for throttle in throttles]
        try:
            version, entry, counts = response_get_counted(
                kind, url, counters, stock=self._stock_filtered()
            )
        except ConnectionInterrupted:  # DRF's cycle fails open, as it always did
            return None
        throttled = any(
            count > throttle.num_requests for throttle, count in zip(throttles, counts, strict=True)
        )
        served = None if entry is None or throttled else self._hit_entry(kind, url, entry, version)
        if served is None:
            for throttle, count in zip(throttles, counts, strict=True):
                throttle.precounted(drf_request, count)
            self._looked_up = (url, version, entry)
            return None
        for throttle, count in zip(throttles, counts, strict=True):
            throttle.decide(drf_request, count)
        response = self._hit_response(served)
        self.response = self.finalize_response(drf_request, response, *args, **kwargs)
        return self.response

    def _negotiated(self, request) -> tuple:
        """``perform_content_negotiation``, remembered per ``Accept`` header (it depends
        on nothing else without a format suffix or parameter): parsing the header was
        the dearest step of a hit. NotAcceptable as DRF raises it."""
        if self.format_kwarg is not None or self.settings.URL_FORMAT_OVERRIDE in request.GET:
            return self.perform_content_negotiation(request)
        key = (request.META.get("HTTP_ACCEPT"), tuple(self.renderer_classes))
        negotiated = _NEGOTIATED.get(key)
        if negotiated is None:
            try:
                negotiated = self.perform_content_negotiation(request)
            except NotAcceptable:
                negotiated = False
            if len(_NEGOTIATED) < _NEGOTIATED_MAX:
                _NEGOTIATED[key] = negotiated
        if negotiated is False:
            raise NotAcceptable(available_renderers=self.get_renderers())
        return negotiated

    def _stock_filtered(self) -> bool:
        return False

    def _hit_entry(self, kind: str, url: str, entry, version):
        """The entry to serve for a current ``entry`` (None: DRF's cycle answers)."""
        return entry


# --------------------------------------------------------------------------- categories


@extend_schema(tags=["catalog"])
class CategoryViewSet(CachedHitMixin, viewsets.ModelViewSet):
    """Categories: public reads, staff writes. ``{id_or_slug}`` takes an id or a slug."""

    serializer_class = CategorySerializer
    permission_classes = [IsStaffOrReadOnly]
    filterset_class = CategoryFilter
    lookup_field = "slug"
    lookup_url_kwarg = "id_or_slug"
    lookup_value_regex = "[^/]+"
    http_method_names = ["get", "post", "put", "patch", "delete", "head", "options"]
    problem_statuses = {"destroy": {409}}

    def get_queryset(self):
        return selectors.category_list()

    def get_object(self) -> Category:
        return selectors.category_get(lookup=self.kwargs["id_or_slug"])

    def get_serializer_context(self):
        context = super().get_serializer_context()
        if not getattr(self, "swagger_fake_view", False):
            context["tree"] = selectors.category_tree()
        return context

    def _hit_kind(self) -> str:
        return "categories" if self.action == "list" else "category"

    def _cache_recognised(self) -> set[str]:
        if self.action != "list":
            return set()
        return {"page", "page_size", *CategoryFilter.base_filters}

    def _hit_response(self, body: bytes) -> HttpResponse:
        return HttpResponse(body, content_type="application/json")

    def _cached_response(self, kind: str, produce) -> HttpResponse | Response:
        """Public category reads come from the cache while the catalog version holds (a
        category write or a product's activation or move bumps it; stock does not touch
        the counts). Staff reads and queries with unknown parameters are not cached. A
        fresh hit without credentials is answered before this, by ``_cached_hit``."""
        url = _public_cache_url(self.request, self._cache_recognised())
        if url is None:
            return produce()
        looked_up, self._looked_up = self._looked_up, None
        if looked_up is not None and looked_up[0] == url:
            version, body = looked_up[1], looked_up[2]
        else:
            version, body = response_get(kind, url)
        if body is not None:
            return HttpResponse(body, content_type="application/json")
        response = produce()
        if response.status_code == status.HTTP_200_OK:
            response_set(kind, url, version, render_json(response.data))
        return response

    def list(self, request, *args, **kwargs):
        return self._cached_response("categories", self._list_response)

    def _list_response(self) -> Response:
        """The list from one query (``selectors.category_rows``: every category, which
        also gives the tree and its counts), filtered and paged in Python, rendered as
        ``CategorySerializer`` renders it (``category_data``). Was three queries (count,
        page, tree) and a serializer per category. Invalid filters: the same 400."""
        filterset = CategoryFilter(
            self.request.query_params, queryset=self.get_queryset(), request=self.request
        )
        if not filterset.is_valid():
            raise translate_validation(filterset.errors)
        rows = selectors.category_rows()
        tree = selectors.category_tree_of(
            (category_id, parent_id, slug, count)
            for category_id, _, slug, _, parent_id, count in rows
        )
        page = self.paginate_queryset(filterset.filter_rows(rows))
        return self.get_paginated_response(category_data(page, tree=tree))

    def retrieve(self, request, *args, **kwargs):
        return self._cached_response(
            "category", lambda: super(CategoryViewSet, self).retrieve(request, *args, **kwargs)
        )

    @extend_schema(request=CategoryWriteSerializer, responses={201: CategorySerializer})
    def create(self, request, *args, **kwargs):
        serializer = CategoryWriteSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        category = services.category_create(**serializer.validated_data)
        return Response(
            CategorySerializer(category, context=self.get_serializer_context()).data,
            status=status.HTTP_201_CREATED,
        )

    @extend_schema(request=CategoryWriteSerializer, responses={200: CategorySerializer})
    def update(self, request, *args, **kwargs):
        category = self.get_object()
        serializer = CategoryWriteSerializer(
            category, data=request.data, partial=kwargs.get("partial", False)
        )
        serializer.is_valid(raise_exception=True)
        category = services.category_update(category=category, data=serializer.validated_data)
        return Response(CategorySerializer(category, context=self.get_serializer_context()).data)

    @extend_schema(request=CategoryWriteSerializer, responses={200: CategorySerializer})
    def partial_update(self, request, *args, **kwargs):
        return self.update(request, *args, partial=True, **kwargs)

    @extend_schema(
        responses={204: NO_BODY},
        description="409 `category_not_empty` while it holds products or subcategories.",
    )
    def destroy(self, request, *args, **kwargs):
        services.category_delete(category=self.get_object())
        return Response(status=status.HTTP_204_NO_CONTENT)


# --------------------------------------------------------------------------- products


@extend_schema(tags=["catalog"])
class ProductViewSet(CachedHitMixin, viewsets.ModelViewSet):
    """Products. The public sees active products; staff see all and write.

    Public (non-staff) list and detail responses are cached as rendered JSON under the
    catalog version, so every committed catalog write shows on the next read. Stock
    changes do not bump that version: a cached body's stock fields are refreshed from the
    database on the first hit after the stock version moved (``_current_stock``), and
    ``in_stock`` filtered lists are keyed by the stock version as well. A fresh hit for a
    GET without credentials is answered in ``dispatch`` (``_cached_hit``): the same
    response, with the throttle counted in the lookup's Redis round trip.
    """

    serializer_class = ProductSerializer
    permission_classes = [IsStaffOrReadOnly]
    filter_backends = [ProductFilterBackend]
    filterset_class = ProductFilter
    pagination_class = CatalogPagination
    lookup_field = "slug"
    lookup_url_kwarg = "id_or_slug"
    lookup_value_regex = "[^/]+"
    http_method_names = ["get", "post", "put", "patch", "delete", "head", "options"]
    problem_statuses = {"stock": {409}, "create": {409}, "update": {409}, "partial_update": {409}}

    def get_serializer_context(self):
        context = super().get_serializer_context()
        context["staff"] = is_staff(self.request)
        return context

    def get_queryset(self):
        if getattr(self, "swagger_fake_view", False):
            return Product.objects.none()
        return selectors.product_list(staff=is_staff(self.request))

    def get_object(self) -> Product:
        return selectors.product_get(lookup=self.kwargs["id_or_slug"], staff=is_staff(self.request))

    def count_cache_key(self, params: str) -> str:
        return selectors.product_count_key(
            staff=is_staff(self.request), params=params, stock=self._stock_filtered()
        )

    def category_tree(self) -> dict[int, dict]:
        """The category tree, loaded at most once per request: the category filter and
        the known count both read it (with the catalog cache off, each read is a query)."""
        if self._category_tree is None:
            self._category_tree = selectors.category_tree()
        return self._category_tree

    _category_tree: dict[int, dict] | None = None

    def known_count(self, params: list[tuple[str, str]]) -> int | None:
        """The list's exact count from the category counts, when they give it (public
        list, no filter or ``category`` alone); None: count with COUNT(*)."""
        if self.action != "list" or is_staff(self.request):
            return None
        return selectors.product_count_from_tree(params=params, tree=self.category_tree)

    def exact_count(self, params: list[tuple[str, str]]) -> Callable[[], int | None] | None:
        """A way to the list's exact count cheaper than COUNT(*), tried when the count is
        not known (``known_count``) nor cached: the public list filtered by ``category``
        and ``price_min`` alone on PostgreSQL (``selectors.product_count_price_min``,
        which may still answer None: then COUNT(*)). None for any other list."""
        if self.action != "list" or is_staff(self.request) or not settings.IS_POSTGRES:
            return None
        if [name for name, _ in params] != ["category", "price_min"]:
            return None
        try:  # as the filter's form cleans it (it has already accepted it)
            price_min = Decimal(params[1][1].strip())
        except InvalidOperation:
            return None
        return lambda: selectors.product_count_price_min(
            tree=self.category_tree(), category=params[0][1], price_min=price_min
        )

    def page_rows_by_id(self, rows) -> Callable[[list[int]], Iterable[ProductRow]] | None:
        """For a ranked search (``ProductFilter`` orders by ``-rank, -id`` then), how to read
        a page's products by id, shaped as the list reads them: the paginator then sorts
        ids and counts in one statement of ``rows.products`` (``CachedCountPaginator.page``).
        None otherwise: the page is read as a slice of ``rows``."""
        if not isinstance(rows, selectors.ProductRows):
            return None
        if tuple(rows.products.query.order_by) != ("-rank", "-id"):
            return None
        staff = is_staff(self.request)
        return lambda ids: selectors.product_rows(
            selectors.product_list(staff=staff, related=False).filter(pk__in=ids)
        )

    def _hit_kind(self) -> str:
        return "list" if self.action == "list" else "detail"

    def _hit_entry(self, kind: str, url: str, entry: tuple, version) -> tuple | None:
        """The entry if its stock fields were read at the current stock version. Else,
        when the stock stamps show that none of its products' stock changed since the
        version they were read at (one more Redis round trip, no query), the same entry
        stored again under the current stock version, so the hits after it need no
        stamps. None otherwise: the stock must be read again (``_stock_reread``)."""
        if entry[1] == version.stock:
            return entry
        if not stock_unchanged_since(entry[1], entry[2]):
            return None
        entry = (entry[0], version.stock, *entry[2:])
        response_set(kind, url, version, entry)
        return entry

    def _stock_reread(self, kind: str, url: str, entry: tuple, version) -> tuple:
        """The entry with its stock fields as the database has them now (one query; the
        body rewritten only if they changed), stored again under the current stock
        version."""
        body, _, product_ids, levels, etag = entry
        fresh, levels = _current_stock(kind, body, product_ids, levels)
        entry = (
            fresh,
            version.stock,
            product_ids,
            levels,
            etag if fresh is body else body_etag(fresh),
        )
        response_set(kind, url, version, entry)
        return entry

    def _hit_response(self, entry: tuple) -> HttpResponse:
        return _stored_response(entry)

    def _stock_filtered(self) -> bool:
        """Whether the list's membership depends on stock levels (the ``in_stock``
        filter), so its cached body and count must follow the stock version."""
        return self.action == "list" and bool(self.request.query_params.get("in_stock"))

    def _cache_recognised(self) -> set[str]:
        if self.action != "list":
            return set()
        return {"page", "page_size", *self.filterset_class.base_filters}

    def cache_query(self) -> list[tuple[str, str]] | None:
        """The normalised recognised query (None: an unknown parameter, do not cache)."""
        return query_key(self.request.query_params, self._cache_recognised())

    def _cached_response(self, kind: str, produce) -> HttpResponse | Response:
        """Public responses come from the cache when the catalog has not changed since
        they were rendered, with their stock fields as they are now (re-read only when the
        stock stamps show, or cannot rule out, a change to one of their products since
        they were last read: ``_hit_entry``); staff responses are never
        cached. A fresh hit without credentials is answered before this, by
        ``_cached_hit``."""
        url = _public_cache_url(self.request, self._cache_recognised())
        if url is None:
            return produce()
        looked_up, self._looked_up = self._looked_up, None
        if looked_up is not None and looked_up[0] == url:
            # ``_cached_hit`` found no entry, or ``_hit_entry`` refused the one it found
            version, entry = looked_up[1], looked_up[2]
            if entry is not None:
                entry = self._stock_reread(kind, url, entry, version)
        else:
            version, entry = response_get(kind, url, stock=self._stock_filtered())
            if entry is not None:
                entry = self._hit_entry(kind, url, entry, version) or self._stock_reread(
                    kind, url, entry, version
                )
        if entry is not None:
            return _stored_response(entry)
        response = produce()
        if response.status_code == status.HTTP_200_OK:
            body = render_json(response.data)
            products = _products(kind, response.data)
            levels = tuple(
                (variant["id"], variant["stock_quantity"])
                for product in products
                for variant in product["variants"]
            )
            product_ids = tuple(product["id"] for product in products)
            entry = (body, version.stock, product_ids, levels, body_etag(body))
            response_set(kind, url, version, entry)
        return response

    @extend_schema(
        parameters=[
            OpenApiParameter(
                name,
                str,
                OpenApiParameter.QUERY,
                many=True,
                explode=True,
                description=ProductFilter.base_filters[name].extra["help_text"],
            )
            for name in ("option", "attribute")
        ]
    )
    def list(self, request, *args, **kwargs):
        return self._cached_response("list", self._list_response)

    def retrieve(self, request, *args, **kwargs):
        return self._cached_response("detail", self._detail_response)

    # The list and detail bodies are ``ProductSerializer``'s, built by ``product_data``
    # from plain rows (no serializer per product and per variant list; see its docstring).

    def _list_response(self) -> Response:
        staff = is_staff(self.request)
        if self.request.query_params.keys() <= _PAGE_PARAMS:  # no filter: the default order
            rows = selectors.ProductListPage(staff=staff)
        else:
            queryset = self.filter_queryset(selectors.product_list(staff=staff, related=False))
            rows = selectors.ProductRows(queryset)
        page = self.paginate_queryset(rows)
        return self.get_paginated_response(product_data(page, request=self.request, staff=staff))

    def _detail_response(self) -> Response:
        staff = is_staff(self.request)
        product = selectors.product_get(
            lookup=self.kwargs["id_or_slug"], staff=staff, related=False
        )
        return Response(product_data([product], request=self.request, staff=staff)[0])

    def _shaped(self, product: Product) -> dict:
        return self.get_serializer(selectors.product_get(lookup=str(product.pk), staff=True)).data

    @extend_schema(request=ProductWriteSerializer, responses={201: ProductSerializer})
    def create(self, request, *args, **kwargs):
        serializer = ProductWriteSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        product = services.product_create(data=serializer.validated_data)
        return Response(self._shaped(product), status=status.HTTP_201_CREATED)

    @extend_schema(request=ProductWriteSerializer, responses={200: ProductSerializer})
    def update(self, request, *args, **kwargs):
        product = self.get_object()
        serializer = ProductWriteSerializer(
            product, data=request.data, partial=kwargs.get("partial", False)
        )
        serializer.is_valid(raise_exception=True)
        product = services.product_update(product=product, data=serializer.validated_data)
        return Response(self._shaped(product))

    @extend_schema(request=ProductWriteSerializer, responses={200: ProductSerializer})
    def partial_update(self, request, *args, **kwargs):
        return self.update(request, *args, partial=True, **kwargs)

    @extend_schema(
        responses={
            204: OpenApiResponse(description="Deleted."),
            200: OpenApiResponse(
                ProductSerializer,
                description="Still referenced (e.g. by orders): deactivated instead, "
                "and returned with `is_active: false`.",
            ),
        }
    )
    def destroy(self, request, *args, **kwargs):
        product = self.get_object()
        if services.product_delete(product=product):
            return Response(status=status.HTTP_204_NO_CONTENT)
        return Response(self._shaped(product))

    @extend_schema(
        request=StockAdjustSerializer,
        responses={200: ProductSerializer},
        description="Staff: add `delta` units to the stock of the product's only variant "
        "(negative removes) atomically, composing with concurrent checkouts. 409 "
        "`out_of_stock` when removing more than is left; 409 `variant_required` when the "
        "product has several variants (use products/{id}/variants/{variant_id}/stock/).",
    )
    @action(detail=True, methods=["post"], permission_classes=[IsStaff])
    def stock(self, request, *args, **kwargs):
        product = self.get_object()
        serializer = StockAdjustSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        services.stock_adjust(product_id=product.pk, delta=serializer.validated_data["delta"])
        return Response(self._shaped(product))


def _stored_response(entry: tuple) -> HttpResponse:
    """The response of a cached product entry (body, stock version, product ids, stock
    levels, the body's ETag): the body, with the tag the conditional GET middleware
    would compute from it."""
    response = HttpResponse(entry[0], content_type="application/json")
    setattr(response, ETAG_ATTRIBUTE, entry[4])
    return response


def _products(kind: str, data: dict) -> list[dict]:
    return data["results"] if kind == "list" else [data]


def _current_stock(
    kind: str, body: bytes, product_ids: tuple[int, ...], levels: tuple[tuple[int, int], ...]
) -> tuple[bytes, tuple[tuple[int, int], ...]]:
    """A cached public body with its stock fields as they are now, and its new levels.

    ``levels`` are the (variant id, stock) pairs the body was rendered with, in order.
    One query reads the current stock of the products' variants; when nothing changed
    the body is returned as stored, else its ``stock_quantity``/``in_stock`` are
    rewritten on every variant and product (the public sees active variants only, so a
    product's figures are the sum and "any" over the variants it lists).
    """
    if not levels:
        return body, levels
    current = selectors.product_stock_levels(product_ids=product_ids)
    fresh = tuple((pk, current.get(pk, 0)) for pk, _ in levels)
    if fresh == levels:
        return body, levels
    data = json.loads(body)
    for product in _products(kind, data):
        for variant in product["variants"]:
            variant["stock_quantity"] = current.get(variant["id"], 0)
            variant["in_stock"] = variant["stock_quantity"] > 0
        product["stock_quantity"] = sum(v["stock_quantity"] for v in product["variants"])
        product["in_stock"] = any(v["in_stock"] for v in product["variants"])
    return render_json(data), fresh


# --------------------------------------------------------------------------- images


class ProductImageCreateView(APIView):
    permission_classes = [IsStaff]
    parser_classes = [MultiPartParser]

    @extend_schema(
        tags=["catalog"],
        parameters=[_ID_OR_SLUG],
        request={"multipart/form-data": ProductImageUploadSerializer},
        responses={201: ProductImageSerializer},
        description="Staff: upload a product image (decoded to check it is one; at most "
        "5 MB, else 413 `image_too_large`). The first image, or one sent with "
        "`is_primary`, becomes the primary image.",
    )
    def post(self, request, id_or_slug: str):
        product = selectors.product_get(lookup=id_or_slug, staff=True)
        serializer = ProductImageUploadSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        image = services.product_image_add(product=product, **serializer.validated_data)
        return Response(
            ProductImageSerializer(image, context={"request": request}).data,
            status=status.HTTP_201_CREATED,
        )


class ProductImageDeleteView(APIView):
    permission_classes = [IsStaff]

    @extend_schema(
        tags=["catalog"],
        parameters=[_ID_OR_SLUG, OpenApiParameter("image_id", int, OpenApiParameter.PATH)],
        responses={204: NO_BODY},
        description="Staff: delete an image; a deleted primary image is succeeded by the "
        "product's next image.",
    )
    def delete(self, request, id_or_slug: str, image_id: int):
        product = selectors.product_get(lookup=id_or_slug, staff=True)
        image = selectors.product_image_get(product=product, image_id=image_id)
        services.product_image_delete(image=image)
        return Response(status=status.HTTP_204_NO_CONTENT)


# --------------------------------------------------------------------------- variants

_VARIANT_ID = OpenApiParameter("variant_id", int, OpenApiParameter.PATH)


class _VariantView(APIView):
    permission_classes = [IsStaff]

    def product(self, id_or_slug: str) -> Product:
        return selectors.product_get(lookup=id_or_slug, staff=True)

    def variant_data(self, variant) -> dict:
        return ProductVariantSerializer(variant, context={"request": self.request}).data


class ProductVariantListView(_VariantView, generics.ListAPIView):
    """A product's variants (a paginated list, so the schema shows the page envelope)."""

    serializer_class = ProductVariantSerializer
    pagination_class = CatalogPagination
    problem_statuses = {"post": {409}}

    def get_queryset(self):
        if getattr(self, "swagger_fake_view", False):
            return ProductVariant.objects.none()
        return selectors.variant_list(product=self.product(self.kwargs["id_or_slug"]))

    @extend_schema(
        tags=["catalog"],
        operation_id="products_variants_list",
        parameters=[_ID_OR_SLUG],
        description="Staff: the product's variants (active or not), paginated.",
    )
    def get(self, request, *args, **kwargs):
        return super().get(request, *args, **kwargs)

    @extend_schema(
        tags=["catalog"],
        operation_id="products_variants_create",
        parameters=[_ID_OR_SLUG],
        request=VariantCreateSerializer,
        responses={201: ProductVariantSerializer},
        description="Staff: add a variant. 400 for a taken SKU, an unknown option or "
        "value, a missing option; 409 `duplicate_variant` for a combination the product "
        "already has.",
    )
    def post(self, request, id_or_slug: str):
        product = self.product(id_or_slug)
        serializer = VariantCreateSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        variant = services.variant_create(product=product, data=serializer.validated_data)
        variant = selectors.variant_get(product=product, variant_id=variant.pk)
        return Response(self.variant_data(variant), status=status.HTTP_201_CREATED)


class ProductVariantDetailView(_VariantView):
    problem_statuses = {"patch": {409}, "delete": {409}}

    @extend_schema(
        tags=["catalog"],
        operation_id="products_variants_retrieve",
        parameters=[_ID_OR_SLUG, _VARIANT_ID],
        responses={200: ProductVariantSerializer},
    )
    def get(self, request, id_or_slug: str, variant_id: int):
        product = self.product(id_or_slug)
        return Response(
            self.variant_data(selectors.variant_get(product=product, variant_id=variant_id))
        )

    @extend_schema(
        tags=["catalog"],
        operation_id="products_variants_partial_update",
        parameters=[_ID_OR_SLUG, _VARIANT_ID],
        request=VariantUpdateSerializer,
        responses={200: ProductVariantSerializer},
        description="Staff: change SKU, options, prices, active flag or position (not "
        "stock). Same refusals as the create.",
    )
    def patch(self, request, id_or_slug: str, variant_id: int):
        product = self.product(id_or_slug)
        variant = selectors.variant_get(product=product, variant_id=variant_id)
        serializer = VariantUpdateSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        services.variant_update(variant=variant, data=serializer.validated_data)
        return Response(
            self.variant_data(selectors.variant_get(product=product, variant_id=variant_id))
        )

    @extend_schema(
        tags=["catalog"],
        operation_id="products_variants_destroy",
        parameters=[_ID_OR_SLUG, _VARIANT_ID],
        responses={
            204: OpenApiResponse(description="Deleted."),
            200: OpenApiResponse(
                ProductVariantSerializer,
                description="In orders: deactivated instead, returned with `is_active: false`.",
            ),
        },
        description="Staff: delete a variant (deactivated instead when orders refer to "
        "it). 409 `last_variant` for a product's only variant.",
    )
    def delete(self, request, id_or_slug: str, variant_id: int):
        product = self.product(id_or_slug)
        variant = selectors.variant_get(product=product, variant_id=variant_id)
        if services.variant_delete(variant=variant):
            return Response(status=status.HTTP_204_NO_CONTENT)
        return Response(
            self.variant_data(selectors.variant_get(product=product, variant_id=variant_id))
        )


class ProductVariantStockView(_VariantView):
    problem_statuses = {"post": {409}}

    @extend_schema(
        tags=["catalog"],
        operation_id="products_variants_stock_create",
        parameters=[_ID_OR_SLUG, _VARIANT_ID],
        request=StockAdjustSerializer,
        responses={200: ProductVariantSerializer},
        description="Staff: add `delta` units to the variant's stock (negative removes) "
        "atomically, composing with concurrent checkouts. 409 `out_of_stock` when "
        "removing more than is left.",
    )
    def post(self, request, id_or_slug: str, variant_id: int):
        product = self.product(id_or_slug)
        variant = selectors.variant_get(product=product, variant_id=variant_id)
        serializer = StockAdjustSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        services.variant_stock_adjust(
            variant_id=variant.pk, delta=serializer.validated_data["delta"]
        )
        return Response(
            self.variant_data(selectors.variant_get(product=product, variant_id=variant_id))
        )
