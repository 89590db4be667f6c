"""Uncached public catalog reads (issue 18, the bench's NEXUS_CATALOG_CACHE=0 cases): no
catalog-version read when nothing is cached, the category tree read once per request,
and ``LeanFilterSet`` filtering exactly as django-filter's own FilterSet does."""

import django_filters
import pytest
from django.core.exceptions import EmptyResultSet
from django.db import connection
from django.http import QueryDict
from django.test.utils import CaptureQueriesContext
from rest_framework import mixins
from rest_framework.test import APIRequestFactory, force_authenticate

from catalog import cache as catalog_cache
from catalog import selectors
from catalog.filters import CategoryFilter, ProductFilter
from catalog.models import Category, Product
from catalog.tests.factories import ProductFactory, ProductVariantFactory
from catalog.views import CategoryViewSet, ProductViewSet
from nexus.testing import prepared_statements, requires_postgres
from users.tests.factories import UserFactory

pytestmark = pytest.mark.django_db

URL = "/api/v1/products/"
RELATED = 1 if connection.vendor == "postgresql" else 4


@pytest.fixture
def products(tree):
    made = []
    for n, slug in enumerate(["laptops", "computers", "kitchen", "laptops", "electronics"] * 3):
        product = ProductFactory(category=tree[slug], variants=False, name=f"Laptop bag {n}")
        ProductVariantFactory(product=product, options={"Size": "M"}, price=5 + n)
        ProductVariantFactory(product=product, options={"Size": "L"}, price=30 + n)
        made.append(product)
    return made


def test_uncached_reads_never_read_the_catalog_version(
    api_client, products, cache_off, monkeypatch
):
    # Given the catalog cache off: nothing is read from or written to it, so the
    # version a cache key would carry must not be read either (a Redis round trip)
    def no_version():
        raise AssertionError("catalog version read with the catalog cache off")

    monkeypatch.setattr(catalog_cache, "catalog_version", no_version)
    monkeypatch.setattr(catalog_cache, "stock_version", no_version)
    monkeypatch.setattr(selectors, "catalog_version", no_version)
    monkeypatch.setattr(selectors, "stock_version", no_version)

    for params in ({}, {"category": "electronics"}, {"search": "bag"}, {"in_stock": "true"}):
        assert api_client.get(URL, params).status_code == 200
    assert api_client.get(f"{URL}{products[0].pk}/").status_code == 200
    assert api_client.get("/api/v1/categories/").status_code == 200


def test_a_category_filtered_list_reads_the_tree_once(api_client, products, cache_off):
    # The filter resolves the category with the tree and the count comes from the same
    # tree: tree + products + related rows, whatever the page size.
    counts = {}
    for size in (1, 5, 100):
        with CaptureQueriesContext(connection) as captured:
            response = api_client.get(URL, {"category": "computers", "page_size": size})
        assert response.status_code == 200
        counts[size] = len(captured)
        tree_reads = [q for q in captured if 'FROM "catalog_category"' in q["sql"]]
        assert len(tree_reads) == 1, tree_reads

    assert counts == {1: 2 + RELATED, 5: 2 + RELATED, 100: 2 + RELATED}
    # and the count is still exact: computers and laptops, not electronics itself
    assert response.json()["count"] == 9


class _PlainProductFilter(ProductFilter):
    """``ProductFilter`` built the way django-filter builds a FilterSet (deep copies of
    the filters, a new form class per instance)."""

    def __init__(self, *args, **kwargs):
        django_filters.filterset.BaseFilterSet.__init__(self, *args, **kwargs)
        self.tree = selectors.category_tree

    get_form_class = django_filters.filterset.BaseFilterSet.get_form_class


class _PlainCategoryFilter(CategoryFilter):
    __init__ = django_filters.filterset.BaseFilterSet.__init__
    get_form_class = django_filters.filterset.BaseFilterSet.get_form_class


def _sql(queryset) -> str:
    try:
        return str(queryset.query)
    except EmptyResultSet:  # .none(): an unknown category
        return "none"


PRODUCT_QUERIES = [
    "",
    "category=electronics",
    "category=computers&price_min=10&ordering=-price",
    "category=nowhere",
    "search=bag&price_max=40",
    "price_min=10&price_max=20&in_stock=true",
    "in_stock=false&brand=acme",
    "option=Size:M&option=Size:L&attribute=Material:Wool",
    "ordering=name&rating_min=0&is_featured=false&is_active=true",
    # invalid: 400s with their messages
    "price_min=-1",
    "ordering=cheapest",
    "option=nocolon",
    "rating_min=9&in_stock=perhaps",
    "category=" + "x" * 141,
]


@pytest.mark.parametrize("query", PRODUCT_QUERIES)
def test_lean_product_filter_filters_and_fails_as_django_filter_does(query, products):
    queryset = Product.objects.filter(is_active=True)
    lean = ProductFilter(QueryDict(query), queryset=queryset)
    plain = _PlainProductFilter(QueryDict(query), queryset=queryset)

    assert lean.is_valid() == plain.is_valid()
    assert lean.errors.get_json_data() == plain.errors.get_json_data()
    if plain.is_valid():
        assert lean.form.cleaned_data == plain.form.cleaned_data
        assert _sql(lean.qs) == _sql(plain.qs)
        assert list(lean.qs.values_list("id", flat=True)) == list(
            plain.qs.values_list("id", flat=True)
        )


@pytest.mark.parametrize("query", ["", "parent=1", "root=true", "root=false", "parent=0"])
def test_lean_category_filter_filters_and_fails_as_django_filter_does(query, tree):
    queryset = Category.objects.all()
    lean = CategoryFilter(QueryDict(query), queryset=queryset)
    plain = _PlainCategoryFilter(QueryDict(query), queryset=queryset)

    assert lean.errors.get_json_data() == plain.errors.get_json_data()
    if plain.is_valid():
        assert list(lean.qs) == list(plain.qs)


def test_lean_filtersets_do_not_share_state(tree):
    # Each instance's filters are its own, their methods call that instance, and the
    # declared filters are left untouched.
    first = ProductFilter(QueryDict("category=kitchen"), queryset=Product.objects.all())
    second = ProductFilter(QueryDict("category=laptops"), queryset=Product.objects.all())
    for name, declared in ProductFilter.base_filters.items():
        assert first.filters[name] is not second.filters[name] is not declared
        assert first.filters[name].parent is first
        assert not hasattr(declared, "parent")
        if declared.method is not None:
            assert first.filters[name].filter.f is first.filters[name]
    assert first.is_valid() and second.is_valid()
    assert first.form is not second.form
    assert first.form.cleaned_data["category"] == "kitchen"
    assert second.form.cleaned_data["category"] == "laptops"
    assert set(first.qs) == set(Product.objects.filter(category=tree["kitchen"]))
    assert _sql(first.qs) != _sql(second.qs)
    # one form class per FilterSet class, built once
    assert type(first.form) is type(second.form)


class _SerializerCategoryViewSet(CategoryViewSet):
    """``categories/`` as it was built before issue 18's rows: the filter backend with
    django-filter's own FilterSet, a paginated queryset, ``CategorySerializer``."""

    filterset_class = _PlainCategoryFilter

    def list(self, request, *args, **kwargs):
        return mixins.ListModelMixin.list(self, request, *args, **kwargs)


CATEGORY_QUERIES = [
    {},
    {"page_size": "2"},
    {"page_size": "2", "page": "2"},
    {"page_size": "2", "page": "4"},
    {"page_size": "2", "page": "99"},  # 404
    {"root": "true"},
    {"root": "false", "page_size": "1", "page": "2"},
    {"parent": "{electronics}"},
    {"parent": "{electronics}", "root": "true"},
    {"parent": "0"},  # 400
    {"root": "perhaps"},
    {"page_size": "0"},
    {"parent": ""},
]


@pytest.mark.parametrize("staff", [False, True])
def test_categories_list_body_equals_the_serializer_output(tree, staff, cache_off):
    # Given categories with equal names (ordered by id), unicode, descriptions, nesting,
    # and active and inactive products
    for n in range(3):
        Category.objects.create(
            name="Zubehör \u2028 «x»",
            slug=f"zubehor-{n}",
            description=f"Teil {n}\n",
            parent=tree["computers"],
        )
    for slug in ("laptops", "laptops", "computers", "kitchen"):
        ProductFactory(category=tree[slug])
    ProductFactory(category=tree["kitchen"], is_active=False)
    factory = APIRequestFactory()
    new_view = CategoryViewSet.as_view({"get": "list"})
    old_view = _SerializerCategoryViewSet.as_view({"get": "list"})
    user = UserFactory(is_staff=True) if staff else None

    for params in CATEGORY_QUERIES:
        query = {k: v.format(electronics=tree["electronics"].pk) for k, v in params.items()}
        responses = []
        for view in (new_view, old_view):
            request = factory.get("/api/v1/categories/", query)
            if user:
                force_authenticate(request, user)
            response = view(request)
            response.render()
            responses.append(response)
        new, old = responses

        # Then the same status and the same bytes: envelope, links, order, counts, errors
        assert (new.status_code, new.content) == (old.status_code, old.content), query
        if not query:  # the fixture is what it is meant to be
            assert new.status_code == 200 and b"\\u2028" in new.content
            assert '"Zubehör'.encode() in new.content and b'"product_count":3' in new.content


def test_categories_list_is_one_query_whatever_the_page_size(api_client, tree, cache_off):
    for n in range(30):
        Category.objects.create(name=f"Extra {n}", slug=f"extra-{n}", parent=tree["kitchen"])
    counts = set()
    for size in (1, 20, 100):
        with CaptureQueriesContext(connection) as captured:
            response = api_client.get("/api/v1/categories/", {"page_size": size})
        assert response.status_code == 200
        counts.add(len(captured))
    assert counts == {1}
    assert response.json()["count"] == 34


SEARCH_QUERIES = [
    {"search": "bag"},
    {"search": "bag", "page_size": "4"},
    {"search": "bag", "page_size": "4", "page": "2"},
    {"search": "bag", "page_size": "4", "page": "4"},  # the last, partial page
    {"search": "bag", "page_size": "4", "page": "5"},  # past the end: 404
    {"search": "bag", "page_size": "4", "page": "last"},
    {"search": "bag", "page": "0"},
    {"search": "bag", "page": "two"},
    {"search": "laptop bag 1", "category": "computers"},
    {"search": "bag", "category": "nowhere"},  # no such category: nothing to rank
    {"search": "nothing-like-it"},  # no match: an empty first page
    {"search": "nothing-like-it", "page": "2"},
    {"search": "!!"},  # punctuation only: substring match, every rank equal
    {"search": "bag", "ordering": "price"},  # not ranked: the plain page
    {"search": "bag", "price_min": "10", "in_stock": "true"},
]


@pytest.mark.skipif(connection.vendor != "postgresql", reason="ranked search is PostgreSQL's")
@pytest.mark.parametrize("client_name", ["api_client", "staff_client"])
def test_ranked_search_pages_equal_the_count_and_slice_path(
    request, products, client_name, cache_off, monkeypatch
):
    # Given products whose ranks tie (ordered by id then) and differ
    client = request.getfixturevalue(client_name)
    ProductFactory(name="Bag", description="bag bag bag", category=products[0].category)
    ProductFactory(name="Rucksack", description="not a bag!!", is_active=False)
    for query in SEARCH_QUERIES:
        new = client.get(URL, query)
        with monkeypatch.context() as plain:
            plain.setattr(ProductViewSet, "page_rows_by_id", lambda self, queryset: None)
            old = client.get(URL, query)

        # Then the same status and bytes: results, order, count, links, errors
        assert (new.status_code, new.content) == (old.status_code, old.content), query
    staff = client_name == "staff_client"  # staff see the inactive rucksack too
    assert client.get(URL, {"search": "bag", "page_size": "4"}).json()["count"] == 16 + staff


@requires_postgres
def test_a_ranked_search_is_planned_per_call_and_the_plain_list_is_prepared(
    api_client, products, cache_off
):
    """A prepared ranked search gets a generic plan that evaluates ``to_tsquery`` per
    matching row (``CatalogPagination`` runs it ``unprepared``); however often it runs,
    it is never prepared, while the plain list page is."""
    threshold = connection.settings_dict["OPTIONS"]["prepare_threshold"]
    for _ in range(threshold + 2):
        assert api_client.get(URL, {"search": "bag"}).json()["count"] == 15
        assert api_client.get(URL).status_code == 200
    prepared = prepared_statements()
    assert not [sql for sql in prepared if "to_tsquery" in sql], prepared
    assert [sql for sql in prepared if 'FROM "catalog_product"' in sql and "LIMIT" in sql]


@pytest.mark.skipif(connection.vendor != "postgresql", reason="ranked search is PostgreSQL's")
def test_a_ranked_search_page_counts_with_its_ids(api_client, products, cache_off):
    # The variant SKUs matching, the page's ids with the count (no COUNT(*) of its own),
    # the page's rows by id, their related rows: whatever the page size.
    counts = {}
    for size in (1, 5, 100):
        with CaptureQueriesContext(connection) as captured:
            response = api_client.get(URL, {"search": "bag", "page_size": size})
        assert response.status_code == 200
        counts[size] = len(captured)
        assert not [q for q in captured if "COUNT(*) AS" in q["sql"]]
        assert len([q for q in captured if "COUNT(*) OVER ()" in q["sql"]]) == 1
    assert counts == {1: 3 + RELATED, 5: 3 + RELATED, 100: 3 + RELATED}
    assert response.json()["count"] == 15
    # Past the end there are no ids to count with: Django's COUNT(*) and its 404.
    with CaptureQueriesContext(connection) as captured:
        assert api_client.get(URL, {"search": "bag", "page": "9"}).status_code == 404
    assert [q for q in captured if "COUNT(*) AS" in q["sql"]]


PLAIN_QUERIES = [
    {},
    {"page": "2"},
    {"page_size": "4"},
    {"page_size": "4", "page": "4"},  # the last, partial page
    {"page_size": "4", "page": "last"},
    {"page": "9"},  # past the end: 404
    {"page": "x"},  # not a number: 404
    {"page_size": "0"},  # 400
    {"page_size": "1000"},  # capped at 100
]


@pytest.mark.parametrize("client_name", ["api_client", "staff_client"])
def test_the_unfiltered_list_equals_the_filter_set_path(
    request, products, client_name, cache_off, monkeypatch
):
    # Given products of equal creation time (ordered by id then) and an inactive one
    client = request.getfixturevalue(client_name)
    Product.objects.filter(pk__in=[p.pk for p in products[:6]]).update(
        created_at=products[0].created_at
    )
    ProductFactory(name="Hidden", is_active=False)
    for query in PLAIN_QUERIES:
        new = client.get(URL, query)
        with monkeypatch.context() as general:
            general.setattr("catalog.views._PAGE_PARAMS", frozenset())
            old = client.get(URL, query)

        # Then the same status and bytes: results, order, count, links, errors
        assert (new.status_code, new.content) == (old.status_code, old.content), query
    staff = client_name == "staff_client"
    assert client.get(URL).json()["count"] == 15 + staff


def test_the_unfiltered_list_page_is_one_statement_and_builds_no_filter_set(
    api_client, products, cache_off, monkeypatch
):
    def no_filter_set(*args, **kwargs):
        raise AssertionError("a filter set built for an unfiltered list")

    monkeypatch.setattr(ProductFilter, "__init__", no_filter_set)
    for size in (1, 5, 100):
        with CaptureQueriesContext(connection) as captured:
            response = api_client.get(URL, {"page_size": size})
        assert response.status_code == 200
        # The category tree (the known count), the page, its related rows.
        assert len(captured) == 2 + RELATED
        assert "LIMIT" in captured[1]["sql"] and "catalog_category" in captured[1]["sql"]
    assert len(response.json()["results"]) == 15


@pytest.mark.parametrize("staff", [False, True])
def test_product_list_page_slices_are_the_querysets_slices(products, staff):
    Product.objects.filter(pk=products[3].pk).update(is_active=False)
    page = selectors.ProductListPage(staff=staff)
    rows = list(page.queryset())
    assert len(rows) == 15 - (not staff) and page.count() == len(rows)
    for bottom, top in ((0, 20), (0, 1), (3, 7), (14, 20), (15, 15), (40, 60)):
        assert page[bottom:top] == rows[bottom:top], (bottom, top)
    with pytest.raises(TypeError):
        page[0]
    with pytest.raises(ValueError):
        page[5:2]


@pytest.mark.parametrize(
    "client_name, params, count",
    [
        ("api_client", {"category": "computers", "price_min": "33"}, 7),
        ("api_client", {"price_max": "8", "ordering": "-price"}, 4),
        ("api_client", {"brand": "nobody"}, 0),
        ("api_client", {"search": "bag"}, 15),
        ("staff_client", {}, 15),
        ("staff_client", {"category": "kitchen"}, 3),
    ],
)
def test_list_counts_read_the_products_alone(
    request, products, cache_off, client_name, params, count
):
    # The page's rows carry their category's name and slug by an inner join; the count
    # needs none, and PostgreSQL keeps an inner join it cannot prove redundant (the
    # filtered count took twice as long with it, issue 18). The count stays exact.
    client = request.getfixturevalue(client_name)
    with CaptureQueriesContext(connection) as captured:
        response = client.get(URL, params)
    assert response.status_code == 200 and response.json()["count"] == count
    counting = [q["sql"] for q in captured if "COUNT(" in q["sql"]]
    assert counting, [q["sql"] for q in captured]
    assert all("JOIN" not in sql for sql in counting), counting


@requires_postgres
@pytest.mark.parametrize("category", ["computers", "electronics", "laptops", "kitchen", "nowhere"])
@pytest.mark.parametrize("price_min", ["0", "5", "31", "36.5", "44", "45", "1000"])
def test_a_category_and_price_min_count_equals_count_star(
    api_client, products, tree, cache_off, monkeypatch, category, price_min
):
    # Beside the fixture's products (highest prices 30 to 44): one with no active
    # variant (a NULL highest price) and an inactive one, in the subtree of computers.
    hidden = ProductFactory(category=tree["laptops"], variants=False, name="Laptop bag hidden")
    ProductVariantFactory(product=hidden, options={"Size": "M"}, price=99, is_active=False)
    ProductFactory(category=tree["computers"], is_active=False, name="Laptop bag retired")
    params = {"category": category, "price_min": price_min, "ordering": "-price"}

    with CaptureQueriesContext(connection) as captured:
        response = api_client.get(URL, params)
    assert response.status_code == 200
    complement = [q["sql"] for q in captured if "AS below" in q["sql"]]
    counted = [q["sql"] for q in captured if 'COUNT(*) AS "__count"' in q["sql"]]

    monkeypatch.setattr(ProductViewSet, "exact_count", lambda self, params: None)
    expected = api_client.get(URL, params)
    assert response.content == expected.content  # the same count, the same page
    assert response.json()["count"] == len(
        api_client.get(URL, {**params, "page_size": 100}).json()["results"]
    )
    # The complement is read when the category has products; it answers when at most
    # half of them are left out, else COUNT(*) counts.
    count = response.json()["count"]
    total = api_client.get(URL, {"category": category}).json()["count"]
    assert bool(complement) == (total > 0)
    assert bool(counted) == (total - count > total // 2)
