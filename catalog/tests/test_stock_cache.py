"""Stock changes and the public product cache (issue 18): a checkout, a cancellation or a
staff stock adjustment shows on the very next read of a cached list or detail, without
emptying the cache (the cached body is served, its stock fields refreshed by one query on
the first hit after the stock version moved, none on the hits after it); lists filtered
by stock follow the stock version; every other catalog write still invalidates."""

import pytest
from django.core.cache import cache
from django.db import connection
from django.test.utils import CaptureQueriesContext

from catalog import services
from catalog.cache import (
    STOCK_STAMPS_KEY,
    STOCK_VERSION_KEY,
    catalog_version,
    counting_lookups,
    stock_version,
)
from catalog.models import ProductOptionValue
from catalog.tests.factories import (
    ProductFactory,
    ProductVariantFactory,
    default_variant,
    png_upload,
)
from nexus.testing import requires_redis
from orders import services as order_services
from orders.choices import PaymentMethod
from orders.tests.factories import ADDRESS, CartFactory, CartItemFactory, fill_cart, place_order

pytestmark = pytest.mark.django_db

URL = "/api/v1/products/"


def _read(client, url, params=None) -> tuple[dict, list[str], bytes]:
    with CaptureQueriesContext(connection) as captured:
        response = client.get(url, params or {})
    assert response.status_code == 200, response.content
    return response.json(), [q["sql"] for q in captured], response.content


def _served_from_cache(queries: list[str]) -> bool:
    """The first cache hit after a stock change runs exactly one query: the stock levels
    of the products' variants (no product, image, option or count query)."""
    return (
        len(queries) == 1
        and 'FROM "catalog_productvariant"' in queries[0]
        and "JOIN" not in queries[0].upper()
    )


def _product_of(body: dict, product_id: int) -> dict:
    return next(item for item in body["results"] if item["id"] == product_id)


def test_checkout_shows_new_stock_on_the_next_cached_read(
    api_client, user_client, user, cache_on, django_capture_on_commit_callbacks
):
    mug = ProductFactory(stock_quantity=5)
    other = ProductFactory(stock_quantity=7)
    detail = f"{URL}{mug.pk}/"
    _read(api_client, URL)
    _read(api_client, detail)
    version = catalog_version()

    fill_cart(user, (mug, 2))
    with django_capture_on_commit_callbacks(execute=True):
        response = user_client.post(
            "/api/v1/orders/",
            {"shipping_address": ADDRESS, "payment_method": "card"},
            format="json",
        )
    assert response.status_code == 201, response.content

    assert catalog_version() == version  # the cache was not emptied
    body, queries, _ = _read(api_client, URL)
    assert _served_from_cache(queries)
    item = _product_of(body, mug.pk)
    assert (item["stock_quantity"], item["in_stock"]) == (3, True)
    assert item["variants"][0]["stock_quantity"] == 3
    assert _product_of(body, other.pk)["stock_quantity"] == 7
    body, queries, _ = _read(api_client, detail)
    assert _served_from_cache(queries)
    assert (body["stock_quantity"], body["variants"][0]["stock_quantity"]) == (3, 3)


def test_staff_variant_stock_adjust_and_cancel_show_on_the_next_cached_read(
    api_client, staff_client, user, cache_on, django_capture_on_commit_callbacks
):
    tee = ProductFactory(variants=False)
    small = ProductVariantFactory(product=tee, options={"Size": "S"}, stock_quantity=1)
    large = ProductVariantFactory(product=tee, options={"Size": "L"}, stock_quantity=4)
    detail = f"{URL}{tee.pk}/"
    _read(api_client, URL)
    _read(api_client, detail)

    with django_capture_on_commit_callbacks(execute=True):
        response = staff_client.post(
            f"{detail}variants/{small.pk}/stock/", {"delta": -1}, format="json"
        )
    assert response.status_code == 200, response.content

    body, queries, _ = _read(api_client, detail)
    assert _served_from_cache(queries)
    by_id = {v["id"]: v for v in body["variants"]}
    assert (by_id[small.pk]["stock_quantity"], by_id[small.pk]["in_stock"]) == (0, False)
    assert (by_id[large.pk]["stock_quantity"], by_id[large.pk]["in_stock"]) == (4, True)
    assert (body["stock_quantity"], body["in_stock"]) == (4, True)

    with django_capture_on_commit_callbacks(execute=True):
        cart = CartFactory(user=user)
        CartItemFactory(cart=cart, product=tee, variant=large, quantity=4)
        order = order_services.order_place(
            user=user, shipping_address=dict(ADDRESS), payment_method=PaymentMethod.CARD
        )
    body, queries, _ = _read(api_client, URL)
    assert _served_from_cache(queries)
    assert (_product_of(body, tee.pk)["stock_quantity"], _product_of(body, tee.pk)["in_stock"]) == (
        0,
        False,
    )

    with django_capture_on_commit_callbacks(execute=True):
        order_services.order_cancel(order=order, actor=user)
    body, queries, _ = _read(api_client, detail)
    assert _served_from_cache(queries)
    assert (body["stock_quantity"], body["in_stock"]) == (4, True)
    body, queries, _ = _read(api_client, URL)
    assert _served_from_cache(queries)
    assert _product_of(body, tee.pk)["variants"][1]["stock_quantity"] == 4


def test_refreshed_cached_body_is_the_body_an_uncached_read_renders(
    api_client, settings, cache_on, django_capture_on_commit_callbacks
):
    ProductFactory(name="Zürich “quoted” <b>", stock_quantity=3)
    tee = ProductFactory(variants=False)
    ProductVariantFactory(product=tee, options={"Size": "S"}, stock_quantity=2)
    ProductVariantFactory(product=tee, options={"Size": "M"}, stock_quantity=0)
    _read(api_client, URL)
    with django_capture_on_commit_callbacks(execute=True):
        services.variant_stock_adjust(variant_id=default_variant(tee).pk, delta=5)

    _, queries, cached = _read(api_client, URL)
    assert _served_from_cache(queries)
    settings.NEXUS_CATALOG_CACHE = False
    _, _, uncached = _read(api_client, URL)
    assert cached == uncached


def test_in_stock_list_drops_a_product_that_just_sold_out(
    api_client, user, cache_on, django_capture_on_commit_callbacks
):
    last = ProductFactory(stock_quantity=1)
    plenty = ProductFactory(stock_quantity=9)
    ids = lambda body: {item["id"] for item in body["results"]}  # noqa: E731
    assert ids(_read(api_client, URL, {"in_stock": "true"})[0]) == {last.pk, plenty.pk}
    assert ids(_read(api_client, URL, {"in_stock": "false"})[0]) == set()
    assert _read(api_client, URL, {"in_stock": "true", "page_size": 1})[0]["count"] == 2
    _read(api_client, URL)
    stock, version = stock_version(), catalog_version()

    with django_capture_on_commit_callbacks(execute=True):
        place_order(user, (last, 1))

    assert (stock_version(), catalog_version()) == (stock + 1, version)
    body = _read(api_client, URL, {"in_stock": "true"})[0]
    assert (ids(body), body["count"]) == ({plenty.pk}, 1)
    assert _read(api_client, URL, {"in_stock": "true", "page_size": 1})[0]["count"] == 1
    assert ids(_read(api_client, URL, {"in_stock": "false"})[0]) == {last.pk}
    body, queries, _ = _read(api_client, URL)  # the unfiltered list is still cached
    assert _served_from_cache(queries)
    assert body["count"] == 2 and _product_of(body, last.pk)["in_stock"] is False


@pytest.mark.parametrize("write", ["price", "name", "variant", "image", "category"])
def test_non_stock_writes_still_invalidate(
    write, api_client, staff_client, cache_on, django_capture_on_commit_callbacks
):
    product = ProductFactory(variants=False)
    variant = ProductVariantFactory(product=product, options={"Size": "S"}, stock_quantity=2)
    ProductOptionValue.objects.create(option=product.options.get(), value="M", position=1)
    detail = f"{URL}{product.pk}/"
    _read(api_client, detail)
    version = catalog_version()

    with django_capture_on_commit_callbacks(execute=True):
        if write == "price":
            response = staff_client.patch(
                f"{detail}variants/{variant.pk}/", {"price": "3.00"}, format="json"
            )
        elif write == "name":
            response = staff_client.patch(detail, {"name": "Renamed"}, format="json")
        elif write == "variant":
            response = staff_client.post(
                f"{detail}variants/",
                {"sku": "NEW-M", "options": {"Size": "M"}, "price": "5.00"},
                format="json",
            )
        elif write == "image":
            response = staff_client.post(
                f"{detail}images/", {"image": png_upload()}, format="multipart"
            )
        else:
            response = staff_client.patch(
                f"/api/v1/categories/{product.category.slug}/", {"name": "Mugs"}, format="json"
            )
    assert response.status_code in (200, 201), response.content

    assert catalog_version() > version
    body, queries, _ = _read(api_client, detail)
    assert not _served_from_cache(queries)
    shown = {
        "price": lambda: body["price"] == "3.00",
        "name": lambda: body["name"] == "Renamed",
        "variant": lambda: len(body["variants"]) == 2,
        "image": lambda: len(body["images"]) == 1,
        "category": lambda: body["category"]["name"] == "Mugs",
    }[write]
    assert shown()


def test_hits_run_no_query_until_the_stock_version_moves(
    api_client, cache_on, django_capture_on_commit_callbacks
):
    mug = ProductFactory(stock_quantity=5)
    detail = f"{URL}{mug.pk}/"
    for url in (URL, detail):
        _read(api_client, url)
        assert _read(api_client, url)[1] == []  # a hit: no query at all

    with django_capture_on_commit_callbacks(execute=True):
        services.variant_stock_adjust(variant_id=default_variant(mug).pk, delta=-2)

    for url in (URL, detail):
        _, queries, refreshed = _read(api_client, url)
        assert _served_from_cache(queries)  # the first hit re-reads the stock
        body, queries, again = _read(api_client, url)
        assert queries == [] and again == refreshed  # stored again, refreshed
        item = body if url == detail else _product_of(body, mug.pk)
        assert item["stock_quantity"] == 3


@requires_redis
def test_a_stock_change_elsewhere_is_served_as_stored_without_a_query(
    api_client, user_client, cache_on, django_capture_on_commit_callbacks
):
    # The change stamps only its own product: a cached body that does not show it is
    # served as stored, with no query, signed in or not; one that shows it is re-read
    # (the list below shows both).
    mug = ProductFactory(stock_quantity=5)
    other = ProductFactory(stock_quantity=2)
    detail = f"{URL}{mug.pk}/"
    _, _, before = _read(api_client, detail)
    _read(api_client, URL)
    with django_capture_on_commit_callbacks(execute=True):
        services.variant_stock_adjust(variant_id=default_variant(other).pk, delta=1)

    for client in (api_client, user_client, api_client):
        _, queries, after = _read(client, detail)
        assert not [sql for sql in queries if "catalog_" in sql] and after == before
    body, queries, _ = _read(api_client, URL)
    assert _served_from_cache(queries)
    assert _product_of(body, other.pk)["stock_quantity"] == 3
    assert _read(api_client, URL)[1] == []


@pytest.mark.parametrize("lost", ["nothing", "stamps"])
def test_without_the_stamps_a_stock_change_elsewhere_is_read_once(
    api_client, cache_on, django_capture_on_commit_callbacks, lost
):
    # No Redis (nothing stamped), or the stamps lost after the change: the first hit
    # cannot tell and re-reads the stock, finds it unchanged and stores the body again.
    mug = ProductFactory(stock_quantity=5)
    other = ProductFactory(stock_quantity=2)
    detail = f"{URL}{mug.pk}/"
    _, _, before = _read(api_client, detail)
    with django_capture_on_commit_callbacks(execute=True):
        services.variant_stock_adjust(variant_id=default_variant(other).pk, delta=1)
    if lost == "stamps" or not counting_lookups():
        cache.delete(STOCK_STAMPS_KEY)
        _, queries, after = _read(api_client, detail)
        assert _served_from_cache(queries) and after == before
    assert _read(api_client, detail)[1] == []


@requires_redis
def test_a_change_lost_with_the_stamps_is_never_hidden(
    api_client, cache_on, django_capture_on_commit_callbacks
):
    # The mug's change is stamped, then the stamps are lost (evicted) and a later change
    # starts new ones: they do not reach back to the mug's entry (``floor``), so its hit
    # re-reads the stock instead of trusting the mug's missing stamp.
    mug = ProductFactory(stock_quantity=5)
    other = ProductFactory(stock_quantity=2)
    detail = f"{URL}{mug.pk}/"
    _read(api_client, detail)
    with django_capture_on_commit_callbacks(execute=True):
        services.variant_stock_adjust(variant_id=default_variant(mug).pk, delta=-2)
    cache.delete(STOCK_STAMPS_KEY)
    with django_capture_on_commit_callbacks(execute=True):
        services.variant_stock_adjust(variant_id=default_variant(other).pk, delta=1)
    body, queries, _ = _read(api_client, detail)
    assert _served_from_cache(queries) and body["stock_quantity"] == 3


@requires_redis
def test_a_lost_stock_version_drops_the_stamps(
    api_client, cache_on, django_capture_on_commit_callbacks
):
    # The stock version lost (evicted, Redis restarted): the next change re-seeds it from
    # the clock and drops the stamps with it, so every entry re-reads its stock once.
    mug = ProductFactory(stock_quantity=5)
    other = ProductFactory(stock_quantity=2)
    _read(api_client, f"{URL}{mug.pk}/")
    _read(api_client, f"{URL}{other.pk}/")
    with django_capture_on_commit_callbacks(execute=True):
        services.variant_stock_adjust(variant_id=default_variant(other).pk, delta=1)
    seen = stock_version()
    cache.delete(STOCK_VERSION_KEY)
    with django_capture_on_commit_callbacks(execute=True):
        services.variant_stock_adjust(variant_id=default_variant(mug).pk, delta=-2)
    assert cache.client.stock_stamps(STOCK_STAMPS_KEY, ["floor", str(mug.pk)]) == [None, None]
    assert stock_version() > seen
    body, queries, _ = _read(api_client, f"{URL}{mug.pk}/")
    assert _served_from_cache(queries) and body["stock_quantity"] == 3
    body, queries, _ = _read(api_client, f"{URL}{other.pk}/")
    assert _served_from_cache(queries) and body["stock_quantity"] == 3


@pytest.mark.parametrize("params", [None, {"page_size": 2}, {"in_stock": "true"}, "detail"])
def test_cached_hit_is_byte_identical_to_the_uncached_response(
    api_client, settings, cache_on, params
):
    ProductFactory(name="Zürich “quoted” <b>", stock_quantity=3)
    tee = ProductFactory(variants=False)
    ProductVariantFactory(product=tee, options={"Size": "S"}, stock_quantity=2)
    ProductVariantFactory(product=tee, options={"Size": "M"}, stock_quantity=0)
    url, query = (f"{URL}{tee.slug}/", None) if params == "detail" else (URL, params)
    _, _, stored = _read(api_client, url, query)
    _, queries, hit = _read(api_client, url, query)
    assert queries == []
    settings.NEXUS_CATALOG_CACHE = False
    _, _, uncached = _read(api_client, url, query)
    assert hit == stored == uncached
