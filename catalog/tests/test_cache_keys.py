"""Cache pollution (issue 12): only recognised query parameters, normalised, key cached
product responses; a request with any other parameter is answered without an entry."""

import pytest
from django.core.cache import cache

from catalog.tests.factories import ProductFactory

pytestmark = pytest.mark.django_db

PRODUCTS = "/api/v1/products/"


def _entries() -> set[str]:
    if hasattr(cache, "keys"):  # django-redis
        return set(cache.keys("catalog:*"))
    return {key for key in cache._cache if ":catalog:" in key}  # LocMemCache


def test_unknown_parameters_create_no_cache_entries(api_client, cache_on):
    ProductFactory.create_batch(3)
    assert api_client.get(PRODUCTS).status_code == 200
    before = _entries()

    for n in range(50):
        response = api_client.get(PRODUCTS, {"junk": f"x{n}"})
        assert response.status_code == 200
        assert response.json()["count"] == 3

    assert _entries() == before


def test_equivalent_queries_share_one_entry(api_client, cache_on):
    ProductFactory.create_batch(3, brand="Acme")
    assert api_client.get(f"{PRODUCTS}?brand=Acme&page=1").status_code == 200
    after_first = _entries()

    for query in ("?page=1&brand=Acme", "?brand=Acme", "?brand=&brand=Acme", "?brand=Acme&page=01"):
        response = api_client.get(f"{PRODUCTS}{query}")
        assert response.status_code == 200
        assert response.json()["count"] == 3

    assert _entries() == after_first


def test_unknown_parameter_on_detail_is_answered_uncached(api_client, cache_on):
    product = ProductFactory()
    before = _entries()
    response = api_client.get(f"{PRODUCTS}{product.slug}/", {"junk": "1"})
    assert response.status_code == 200
    assert response.json()["id"] == product.pk
    assert {key for key in _entries() if ":response:" in key} == {
        key for key in before if ":response:" in key
    }
