"""Fixed query counts whatever the page size, and the public response cache: hits cost
no query, every catalog write is visible on the next read, staff are never served it."""

import pytest
from django.core.cache import cache
from django.db import connection
from django.test.utils import CaptureQueriesContext

from catalog import services
from catalog.tests.factories import CategoryFactory, ProductFactory, ProductImageFactory

pytestmark = pytest.mark.django_db

URL = "/api/v1/products/"


@pytest.fixture
def cache_off(settings):
    settings.NEXUS_CATALOG_CACHE = False


@pytest.fixture
def catalogue(tree):
    categories = list(tree.values())
    for n in range(110):
        product = ProductFactory(category=categories[n % len(categories)])
        ProductImageFactory(product=product, is_primary=True)
        ProductImageFactory(product=product)
    return tree


def _queries(client, url, params=None) -> int:
    with CaptureQueriesContext(connection) as captured:
        response = client.get(url, params or {})
    assert response.status_code == 200, response.content
    return len(captured)


@pytest.mark.parametrize("client_name", ["api_client", "staff_client"])
def test_product_list_query_count_is_fixed_whatever_the_page_size(
    request, catalogue, client_name, cache_off
):
    client = request.getfixturevalue(client_name)
    counts = {size: _queries(client, URL, {"page_size": size}) for size in (1, 20, 100)}
    filtered = {
        size: _queries(client, URL, {"page_size": size, "category": "electronics", "search": "o"})
        for size in (1, 20, 100)
    }

    # count + products (with category) + images; staff add one query for the user.
    expected = 3 if client_name == "api_client" else 4
    assert counts == {1: expected, 20: expected, 100: expected}
    # + the category tree (two queries) to resolve the category and its subcategories.
    assert filtered == {1: expected + 2, 20: expected + 2, 100: expected + 2}


def test_product_and_category_detail_query_counts(api_client, catalogue, cache_off):
    product = ProductFactory(category=catalogue["laptops"])
    ProductImageFactory.create_batch(3, product=product)

    assert _queries(api_client, f"{URL}{product.pk}/") == 2  # product + images
    assert _queries(api_client, f"{URL}{product.slug}/") == 2
    assert _queries(api_client, "/api/v1/categories/laptops/") == 3  # + tree (two)
    assert _queries(api_client, "/api/v1/categories/", {"page_size": 1}) == 4
    assert _queries(api_client, "/api/v1/categories/", {"page_size": 100}) == 4


def test_product_list_cached_for_the_public_and_invalidated_by_writes(
    api_client, staff_client, cache_on, django_capture_on_commit_callbacks
):
    product = ProductFactory(name="Old name")

    first = api_client.get(URL)
    assert _queries(api_client, URL) == 0  # served from the cache
    assert _queries(api_client, f"{URL}{product.pk}/") == 2
    assert _queries(api_client, f"{URL}{product.pk}/") == 0

    # The version is bumped on commit (the test's transaction never commits: run hooks).
    with django_capture_on_commit_callbacks(execute=True):
        staff_client.patch(f"{URL}{product.pk}/", {"name": "New name"})

    assert first.json()["results"][0]["name"] == "Old name"
    assert api_client.get(URL).json()["results"][0]["name"] == "New name"
    assert api_client.get(f"{URL}{product.pk}/").json()["name"] == "New name"


def test_product_cache_invalidated_by_stock_services_and_counts_follow(
    api_client, cache_on, django_capture_on_commit_callbacks
):
    product = ProductFactory(stock_quantity=5)
    assert api_client.get(f"{URL}{product.pk}/").json()["stock_quantity"] == 5
    assert api_client.get(URL).json()["count"] == 1

    with django_capture_on_commit_callbacks(execute=True):
        services.stock_reserve(quantities={product.pk: 2})
    assert api_client.get(f"{URL}{product.pk}/").json()["stock_quantity"] == 3
    assert api_client.get(URL, {"page_size": 5}).json()["count"] == 1
    ProductFactory()  # a raw insert does not bump the version: the count stays cached...
    assert api_client.get(URL, {"page_size": 6}).json()["count"] == 1
    with django_capture_on_commit_callbacks(execute=True):
        services.stock_adjust(product_id=product.pk, delta=1)  # ...any service bumps it

    assert api_client.get(f"{URL}{product.pk}/").json()["stock_quantity"] == 4
    assert api_client.get(URL).json()["count"] == 2


def test_product_cache_is_never_used_for_staff(
    api_client, staff_client, cache_on, django_capture_on_commit_callbacks
):
    product = ProductFactory()
    assert api_client.get(f"{URL}{product.pk}/").status_code == 200
    with django_capture_on_commit_callbacks(execute=True):
        services.products_set_active(product_ids=[product.pk], is_active=False)

    # Staff see the inactive product (never a public cached copy); the public get a 404.
    assert staff_client.get(f"{URL}{product.pk}/").json()["is_active"] is False
    assert api_client.get(f"{URL}{product.pk}/").status_code == 404


def test_product_count_cached_per_filter_set(api_client, cache_on):
    ProductFactory.create_batch(3, brand="Acme")
    ProductFactory(brand="Zeta")

    api_client.get(URL, {"brand": "Acme"})
    with CaptureQueriesContext(connection) as captured:
        body = api_client.get(URL, {"brand": "Acme", "page_size": 2, "ordering": "price"}).json()

    assert body["count"] == 3
    assert not any("COUNT(" in q["sql"].upper() for q in captured)
    assert api_client.get(URL, {"brand": "Zeta"}).json()["count"] == 1


def test_category_product_count_follows_writes(
    api_client, staff_client, cache_on, django_capture_on_commit_callbacks
):
    category = CategoryFactory(slug="mugs")
    assert api_client.get("/api/v1/categories/mugs/").json()["product_count"] == 0

    with django_capture_on_commit_callbacks(execute=True):
        staff_client.post(
            URL, {"name": "Mug", "sku": "M-1", "price": "2.00", "category": category.pk}
        )

    assert api_client.get("/api/v1/categories/mugs/").json()["product_count"] == 1


def test_dead_redis_means_uncached_answers_not_errors(
    api_client, staff_client, settings, django_capture_on_commit_callbacks
):
    # A Redis nobody listens on, configured like production (errors ignored).
    settings.CACHES = {
        "default": {
            "BACKEND": "django_redis.cache.RedisCache",
            "LOCATION": "redis://127.0.0.1:1/0",
            "OPTIONS": {"IGNORE_EXCEPTIONS": True, "SOCKET_CONNECT_TIMEOUT": 0.2},
        }
    }
    settings.DJANGO_REDIS_IGNORE_EXCEPTIONS = True
    cache.set("probe", 1)
    assert cache.get("probe") is None  # really no cache behind it
    product = ProductFactory(name="Before")

    assert api_client.get(URL).json()["results"][0]["name"] == "Before"
    with django_capture_on_commit_callbacks(execute=True):
        staff_client.patch(f"{URL}{product.pk}/", {"name": "After"})

    assert api_client.get(URL).json()["results"][0]["name"] == "After"
    assert api_client.get(f"{URL}{product.slug}/").json()["name"] == "After"
    assert api_client.get("/api/v1/categories/").status_code == 200
