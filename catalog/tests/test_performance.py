"""Fixed query counts whatever the page size, and the public response cache: a hit costs
one query (the stock levels of the variants it shows), every catalog write is visible on
the next read, staff are never served it."""

from decimal import Decimal

import pytest
from django.core.cache import cache
from django.db import connection
from django.test.utils import CaptureQueriesContext
from rest_framework.renderers import JSONRenderer
from rest_framework.request import Request

from catalog import selectors, services
from catalog.models import Product, ProductOption
from catalog.serializers import ProductSerializer, media_url, media_urls, product_data
from catalog.tests.factories import (
    CategoryFactory,
    ProductAttributeFactory,
    ProductFactory,
    ProductImageFactory,
    ProductVariantFactory,
    default_variant,
)

pytestmark = pytest.mark.django_db

URL = "/api/v1/products/"
# A product's images, variants, options (with values) and attributes: one UNION ALL
# query on PostgreSQL, four elsewhere (selectors.product_related).
RELATED = 1 if connection.vendor == "postgresql" else 4


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

    # count + products (with category) + images, variants, options (with their values)
    # and attributes; staff add one for the user.
    expected = (2 if client_name == "api_client" else 3) + RELATED
    assert counts == {1: expected, 20: expected, 100: expected}
    # + the category tree (one query of the categories alone: issue 18, their counts are
    # denormalised) to resolve the category and its subcategories, + the variant SKUs
    # matching the search.
    assert filtered == {1: expected + 2, 20: expected + 2, 100: expected + 2}


def _product_with_variants(count: int, category) -> None:
    product = ProductFactory(category=category, variants=False)
    sizes = ["XS", "S", "M", "L", "XL"]
    for n in range(count):
        ProductVariantFactory(
            product=product,
            options={"Size": sizes[n % 5], "Color": f"Colour {n // 5}"},
            stock_quantity=n,
        )
    ProductAttributeFactory(product=product, name="Material", value="Cotton")
    ProductImageFactory(product=product, is_primary=True)


def test_product_list_query_count_is_fixed_whatever_the_variants_per_product(
    tree, api_client, staff_client, cache_off
):
    # Given pages of products with 1 variant, then with 12 variants (two options) each
    for _ in range(5):
        _product_with_variants(1, tree["laptops"])
    few = {c: _queries(c, URL, {"page_size": 5}) for c in (api_client, staff_client)}
    detail_few = _queries(api_client, f"{URL}{api_client.get(URL).json()['results'][0]['id']}/")
    for _ in range(5):
        _product_with_variants(12, tree["kitchen"])
    many = {c: _queries(c, URL, {"page_size": 5}) for c in (api_client, staff_client)}
    newest = api_client.get(URL, {"page_size": 1}).json()["results"][0]

    # Then the same number of queries, list and detail, public and staff, as for the
    # plain catalogue above (options and their values are read in one query)
    assert len(newest["variants"]) == 12 and newest["options"][0]["name"] == "Size"
    assert few == many == {api_client: 2 + RELATED, staff_client: 3 + RELATED}
    assert _queries(api_client, f"{URL}{newest['id']}/") == detail_few == 1 + RELATED
    filtered = {"option": ["Size:M", "Color:Colour 1"], "attribute": "Material:Cotton"}
    assert _queries(api_client, URL, {**filtered, "page_size": 5}) == 2 + RELATED


@pytest.fixture
def varied_catalogue(tree):
    """Products with several variants (inactive and sold-out ones, sale prices), two
    options, attributes and images, a product whose variants are all inactive, one with
    an option without values, an inactive product and a plain v1 product."""
    sizes, colors = ["S", "M", "L"], ["Red", "Blue"]
    products = []
    for n in range(4):
        product = ProductFactory(
            category=tree["laptops" if n % 2 else "kitchen"],
            variants=False,
            name=f"Jacket {n} \u2028 «ünïcode»",
            average_rating=Decimal("4.50"),
            review_count=3,
            rating_histogram={"5": 2, "4": 1},
            is_featured=n == 1,
        )
        for index, (size, color) in enumerate((size, color) for color in colors for size in sizes):
            ProductVariantFactory(
                product=product,
                options={"Size": size, "Color": color},
                price=Decimal("10.00") + index,
                compare_at_price=Decimal("99.90") if index % 2 else None,
                stock_quantity=0 if index == 1 else index,
                is_active=index != 4,
                position=10 - index,
            )
        ProductAttributeFactory(product=product, name="Material", value="Wool")
        ProductAttributeFactory(product=product, name="Made in", value="Portugal")
        ProductImageFactory(product=product, is_primary=True, alt_text="front")
        ProductImageFactory(product=product, alt_text="back")
        products.append(product)
    dormant = ProductFactory(category=tree["kitchen"], variants=False)
    ProductVariantFactory(product=dormant, options={"Size": "M"}, is_active=False, price=5)
    ProductVariantFactory(product=dormant, options={"Size": "L"}, is_active=False, price=7)
    empty_option = ProductFactory(category=tree["kitchen"])
    ProductOption.objects.create(product=empty_option, name="Engraving", position=1)
    ProductFactory(category=tree["kitchen"], is_active=False)
    ProductFactory(category=tree["laptops"], description="", brand="")
    return products


def _serializer_body(client, staff: bool, products, envelope=None) -> bytes:
    """What the serializer-based path renders: the products (a page of them inside
    ``envelope``, or the one product of a detail)."""
    request = Request(client.get(URL).wsgi_request)  # a request of the same host and scheme
    shaped = [selectors.product_get(lookup=str(p.pk), staff=True) for p in products]
    context = {"request": request, "staff": staff}
    if envelope is None:
        return JSONRenderer().render(ProductSerializer(shaped[0], context=context).data)
    data = ProductSerializer(shaped, many=True, context=context).data
    return JSONRenderer().render({**envelope, "results": data})


@pytest.mark.parametrize("client_name", ["api_client", "staff_client"])
def test_product_list_and_detail_bodies_equal_the_serializer_output(
    request, varied_catalogue, client_name, cache_off
):
    client = request.getfixturevalue(client_name)
    staff = client_name == "staff_client"

    for params in ({"page_size": 3}, {"page_size": 3, "page": 2}, {"ordering": "price"}):
        response = client.get(URL, params)
        body = response.json()
        listed = [Product.objects.get(pk=item["id"]) for item in body["results"]]
        envelope = {key: body[key] for key in ("count", "next", "previous")}

        # Byte for byte: key order, decimals, dates, unicode (U+2028 escaped) included.
        assert response.content == _serializer_body(client, staff, listed, envelope)

    for product in Product.objects.all():
        response = client.get(f"{URL}{product.pk}/")
        if not (staff or product.is_active):
            assert response.status_code == 404
            continue
        assert response.content == _serializer_body(client, staff, [product])

    # The fixture exercises what it is meant to: hidden variants, an empty option.
    jacket = client.get(f"{URL}{varied_catalogue[0].pk}/").json()
    assert len(jacket["variants"]) == (6 if staff else 5)
    assert [option["name"] for option in jacket["options"]] == ["Size", "Color"]
    assert b'"values":[]' in client.get(URL, {"page_size": 100}).content


def test_product_data_is_the_serializer_output_for_every_product(varied_catalogue, rf, settings):
    settings.MEDIA_URL = "https://cdn.example.com/media/"  # absolute media URLs too
    request = Request(rf.get(URL))
    for staff in (False, True):
        products = list(selectors.product_list(staff=staff, related=False).order_by("id"))
        prefetched = list(selectors.product_list(staff=staff).order_by("id"))
        context = {"request": request, "staff": staff}

        rows = list(selectors.product_rows(selectors.product_list(staff=staff).order_by("id")))
        expected = ProductSerializer(prefetched, many=True, context=context).data

        assert product_data(products, request=request, staff=staff) == expected
        assert product_data(rows, request=request, staff=staff) == expected  # as the list


# Names urljoin leaves alone and names it folds (empty and dot segments), quoted or not.
MEDIA_NAMES = [
    "products/2026/12/lamp.jpg",
    "/products/lead.jpg",
    "products/a b&c?d#e%f;g:h=i+j.png",
    "products/ünïcødé/€.webp",
    "products/it's (1)!~*.gif",
    "products//double.jpg",
    "products/./dot.jpg",
    "products/../up.jpg",
    "products/.hidden.jpg",
    "products/trailing/",
    "products\\windows.jpg",
    ".",
    "",
]


@pytest.mark.parametrize("media", ["media/", "/shop/media/", "https://cdn.example.com/m/"])
@pytest.mark.parametrize("secure", [False, True])
def test_media_urls_are_media_url(rf, settings, media, secure):
    settings.MEDIA_URL = media
    settings.ALLOWED_HOSTS = ["shop.example.com"]
    for request in (rf.get(URL, secure=secure, HTTP_HOST="shop.example.com:8443"), None):
        url_of = media_urls(request)
        for name in MEDIA_NAMES:
            assert url_of(name) == media_url(request, name), name


def test_media_urls_leave_other_storages_to_media_url(rf, settings):
    settings.STORAGES = {
        **settings.STORAGES,
        "default": {"BACKEND": "django.core.files.storage.InMemoryStorage"},
    }
    request = rf.get(URL)
    assert media_urls(request).func is media_url  # the partial, not the shortcut
    assert media_urls(request)("products/lamp.jpg") == media_url(request, "products/lamp.jpg")


def test_product_rows_carry_the_instances_values_and_types(varied_catalogue):
    products = selectors.product_list(staff=True, related=False).order_by("id")
    rows = list(selectors.product_rows(products))
    assert [row.pk for row in rows] == [product.pk for product in products]
    for row, product in zip(rows, products, strict=True):
        for name in selectors.ProductRow._fields[:-1]:
            value = getattr(product, name)
            assert getattr(row, name) == value and type(getattr(row, name)) is type(value), name
        assert row.category == (product.category.pk, product.category.name, product.category.slug)


@pytest.mark.skipif(connection.vendor != "postgresql", reason="the UNION ALL is PostgreSQL's")
def test_related_rows_in_one_query_equal_the_four_queries(varied_catalogue):
    ids = list(Product.objects.order_by("-id").values_list("id", flat=True))
    union = {pk: selectors.ProductRelated() for pk in ids}
    four = {pk: selectors.ProductRelated() for pk in ids}
    with CaptureQueriesContext(connection) as captured:
        selectors._product_related_union(ids, union)
    selectors._product_related_queries(ids, four)
    assert len(captured) == 1
    assert union == four
    assert any(len(rows.variants) > 1 and rows.options and rows.images for rows in union.values())


def test_product_and_category_detail_query_counts(api_client, catalogue, cache_off):
    product = ProductFactory(category=catalogue["laptops"])
    ProductImageFactory.create_batch(3, product=product)

    # product + images, variants, options (with values), attributes
    assert _queries(api_client, f"{URL}{product.pk}/") == 1 + RELATED
    assert _queries(api_client, f"{URL}{product.slug}/") == 1 + RELATED
    assert _queries(api_client, "/api/v1/categories/laptops/") == 2  # + the tree (one)
    # every category in one query, filtered and paged in Python, which also gives the
    # tree: issue 18, no query counts products (the tree carries the categories'
    # denormalised counts), and no COUNT, page and tree queries apart
    assert _queries(api_client, "/api/v1/categories/", {"page_size": 1}) == 1
    assert _queries(api_client, "/api/v1/categories/", {"page_size": 100}) == 1


def test_product_list_cached_for_the_public_and_invalidated_by_writes(
    api_client, staff_client, cache_on, django_capture_on_commit_callbacks
):
    product = ProductFactory(name="Old name")

    first = api_client.get(URL)
    # Served from the cache: no query while the stock version holds (test_stock_cache.py).
    assert _queries(api_client, URL) == 0
    assert _queries(api_client, f"{URL}{product.pk}/") == 1 + RELATED
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
        services.stock_reserve(quantities={default_variant(product).pk: 2})
    assert api_client.get(f"{URL}{product.pk}/").json()["stock_quantity"] == 3
    assert api_client.get(URL, {"page_size": 5}).json()["count"] == 1
    ProductFactory()  # a raw insert does not bump the version: the count stays cached...
    assert api_client.get(URL, {"page_size": 6}).json()["count"] == 1
    with django_capture_on_commit_callbacks(execute=True):
        services.stock_adjust(product_id=product.pk, delta=1)  # ...stock changes keep it...
    assert api_client.get(f"{URL}{product.pk}/").json()["stock_quantity"] == 4
    assert api_client.get(URL).json()["count"] == 1
    with django_capture_on_commit_callbacks(execute=True):  # ...any catalog write bumps it
        services.products_set_active(product_ids=[product.pk], is_active=True)

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
