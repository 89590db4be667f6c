"""The detail's product read compiled once per connection (``nexus.rawsql.CompiledRead``,
``catalog.selectors.product_get(related=False)``) gives what the ORM queryset gives."""

import threading

import pytest
from django.db import connection, connections
from django.http import Http404
from django.test.utils import CaptureQueriesContext

from catalog import selectors
from catalog.models import Product
from catalog.tests.factories import ProductFactory
from nexus.rawsql import CompiledRead

pytestmark = pytest.mark.django_db


def _state(product: Product) -> dict:
    values = {k: v for k, v in vars(product).items() if k != "_state"}
    category = product.category  # select_related: no query
    return {
        "values": values,
        "deferred": product.get_deferred_fields(),
        "category": {k: v for k, v in vars(category).items() if k != "_state"},
        "category_deferred": category.get_deferred_fields(),
        "db": (product._state.db, product._state.adding, category._state.db),
    }


def _orm(lookup: str, staff: bool) -> Product | None:
    product_id = selectors.as_id(lookup)
    field = {"pk": product_id} if product_id is not None else {"slug": lookup}
    return selectors.product_list(staff=staff, related=False).filter(**field).first()


@pytest.fixture
def catalog(tree):
    return [
        ProductFactory(category=tree["laptops"], name="Active one"),
        ProductFactory(category=tree["kitchen"], name="Inactive one", is_active=False),
        ProductFactory(category=tree["electronics"], name="With rating", review_count=3),
    ]


@pytest.mark.parametrize("staff", [False, True])
@pytest.mark.parametrize("by", ["pk", "slug"])
def test_compiled_product_read_equals_the_orm(catalog, staff, by):
    for product in catalog:
        lookup = str(product.pk) if by == "pk" else product.slug
        expected = _orm(lookup, staff)
        if expected is None:
            assert not staff and not product.is_active
            with pytest.raises(Http404):
                selectors.product_get(lookup=lookup, staff=staff, related=False)
            continue
        with CaptureQueriesContext(connection) as queries:
            got = selectors.product_get(lookup=lookup, staff=staff, related=False)
            state = _state(got)  # the category came with it
        assert len(queries) == 1
        assert type(got) is Product and state == _state(expected)


def test_unknown_lookups_are_404(catalog):
    for lookup in ("999999999", "no-such-slug", "0", "x" * 300):
        with pytest.raises(Http404):
            selectors.product_get(lookup=lookup, staff=True, related=False)


def test_the_statement_is_compiled_once_per_connection(catalog):
    read = selectors._PRODUCT_READS["slug", False]
    selectors.product_get(lookup=catalog[0].slug, staff=False, related=False)
    compiled = connection.nexus_compiled_reads[read]
    selectors.product_get(lookup=catalog[2].slug, staff=False, related=False)
    assert connection.nexus_compiled_reads[read] is compiled
    # Another thread has its own connection wrapper and compiles for itself.
    seen = []

    def other():
        seen.append(connections["default"].__dict__.get("nexus_compiled_reads", {}).get(read))
        connections["default"].close()

    thread = threading.Thread(target=other)
    thread.start()
    thread.join()
    assert seen == [None]


def test_reads_the_orm_cannot_replay_are_refused(catalog):
    prefetching = CompiledRead(lambda v: Product.objects.prefetch_related("images").filter(pk=v), 7)
    with pytest.raises(ValueError, match="prefetches"):
        prefetching.run(catalog[0].pk)
    # The sentinel must be exactly one parameter of the statement.
    twice = CompiledRead(lambda v: Product.objects.filter(pk=v, review_count=v), 7)
    with pytest.raises(ValueError, match="sentinel"):
        twice.run(catalog[0].pk)


def test_table_rows_are_the_querysets_rows(tree):
    """``nexus.rawsql.table_rows``: the categories' rows as ``values_list`` gives them,
    in the model's order and unordered, and a table with converters (SQLite's decimals
    and booleans, JSON) read in a descending order."""
    from catalog.models import Category
    from nexus.rawsql import table_rows

    parent = next(iter(tree.values()))
    for n, name in enumerate(("Zebra", "alpha", "Éclair", "zebra", "Alpha")):
        Category.objects.create(name=name, slug=f"t-{n}", parent=parent)
    for _ in range(3):
        ProductFactory(category=parent)
    columns = selectors.CATEGORY_COLUMNS
    assert table_rows(Category, columns, order_by=("name", "id")) == list(
        Category.objects.values_list(*columns)
    )
    assert selectors.category_rows() == list(Category.objects.values_list(*columns))
    tree_columns = ("id", "parent_id", "slug", "product_count")
    assert sorted(table_rows(Category, tree_columns)) == sorted(
        Category.objects.order_by().values_list(*tree_columns)
    )
    product_columns = ("pk", "price", "is_active", "rating_histogram", "created_at")
    rows = table_rows(Product, product_columns, order_by=("-created_at", "-id"))
    assert rows == list(
        Product.objects.order_by("-created_at", "-id").values_list(*product_columns)
    )
    assert [type(value) for value in rows[0]] == [
        type(value) for value in Product.objects.values_list(*product_columns).first()
    ]
    assert rows[0][2] is True  # a bool on SQLite too, not 1
