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
