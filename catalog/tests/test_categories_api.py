"""Category endpoints: tree, counts, generated slugs, staff writes, delete rules."""

import pytest

from catalog import services
from catalog.models import Category
from catalog.tests.factories import CategoryFactory, ProductFactory
from nexus.testing import problem_codes

pytestmark = pytest.mark.django_db

URL = "/api/v1/categories/"


def test_category_list_counts_active_products_including_subcategories(api_client, tree):
    ProductFactory(category=tree["laptops"])
    ProductFactory(category=tree["computers"])
    ProductFactory(category=tree["computers"], is_active=False)
    ProductFactory(category=tree["kitchen"])

    response = api_client.get(URL, {"page_size": 100})

    counts = {c["slug"]: c["product_count"] for c in response.json()["results"]}
    assert counts == {"electronics": 2, "computers": 2, "laptops": 1, "kitchen": 1}
    laptops = api_client.get(f"{URL}laptops/").json()
    assert laptops == {
        "id": tree["laptops"].pk,
        "name": "Laptops",
        "slug": "laptops",
        "description": "",
        "parent": tree["computers"].pk,
        "product_count": 1,
    }
    assert api_client.get(f"{URL}{tree['laptops'].pk}/").json() == laptops


def test_category_list_filters_roots_and_children(api_client, tree):
    roots = api_client.get(URL, {"root": "true"}).json()["results"]
    children = api_client.get(URL, {"parent": tree["electronics"].pk}).json()["results"]

    assert {c["slug"] for c in roots} == {"electronics", "kitchen"}
    assert [c["slug"] for c in children] == ["computers"]


def test_category_create_staff_only_with_generated_unique_slugs(
    api_client, user_client, staff_client
):
    assert problem_codes(api_client.post(URL, {"name": "Toys"})) == (401, "not_authenticated")
    assert problem_codes(user_client.post(URL, {"name": "Toys"})) == (403, "permission_denied")

    first = staff_client.post(URL, {"name": "Toys & Games", "slug": "ignored"})
    second = staff_client.post(URL, {"name": "Toys & Games", "parent": first.json()["id"]})

    assert first.status_code == second.status_code == 201
    assert first.json()["slug"] == "toys-games"
    assert second.json()["slug"] == "toys-games-2"
    assert second.json()["parent"] == first.json()["id"]


def test_category_update_rejects_cycles_and_keeps_slug(staff_client, tree):
    url = f"{URL}{tree['electronics'].pk}/"

    response = staff_client.patch(url, {"parent": tree["laptops"].pk})
    assert problem_codes(response) == (400, "validation_error")
    assert response.json()["errors"][0]["field"] == "parent"
    assert problem_codes(staff_client.patch(url, {"parent": tree["electronics"].pk}))[0] == 400

    renamed = staff_client.patch(url, {"name": "Gadgets"})
    assert renamed.json()["name"] == "Gadgets" and renamed.json()["slug"] == "electronics"


def test_category_parent_empty_string_is_a_wrong_type_and_null_detaches(staff_client, tree):
    # DRF reads "" as null for a relation (an HTML form's empty choice); the schema says
    # integer or null, so a JSON "" is a 400 and leaves the category as it was.
    url = f"{URL}{tree['laptops'].pk}/"

    response = staff_client.patch(url, {"parent": "", "name": "Renamed"}, format="json")
    assert problem_codes(response) == (400, "validation_error")
    assert response.json()["errors"][0]["field"] == "parent"
    tree["laptops"].refresh_from_db()
    assert tree["laptops"].parent_id == tree["computers"].pk
    assert tree["laptops"].name != "Renamed"

    detached = staff_client.patch(url, {"parent": None}, format="json")
    assert detached.status_code == 200 and detached.json()["parent"] is None


def test_category_delete_refused_while_not_empty(staff_client, tree):
    ProductFactory(category=tree["laptops"], is_active=False)

    for slug in ("laptops", "computers"):  # a product; a subcategory
        assert problem_codes(staff_client.delete(f"{URL}{slug}/")) == (409, "category_not_empty")
    assert staff_client.delete(f"{URL}kitchen/").status_code == 204
    assert not Category.objects.filter(slug="kitchen").exists()


def test_category_unknown_is_404(api_client):
    CategoryFactory()
    assert problem_codes(api_client.get(f"{URL}nope/")) == (404, "not_found")


def _queries(client, url, params=None) -> tuple[dict, int]:
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    with CaptureQueriesContext(connection) as captured:
        response = client.get(url, params or {})
    assert response.status_code == 200, response.content
    return response.json(), len(captured)


def test_public_category_reads_are_cached_until_a_catalog_write(
    api_client, staff_client, tree, cache_on, django_capture_on_commit_callbacks
):
    # Issue 18: categories/ ran its list, count and tree queries on every request.
    product = ProductFactory(category=tree["kitchen"], stock_quantity=5)
    first, queries = _queries(api_client, URL, {"page_size": 100})
    assert queries > 0
    again, queries = _queries(api_client, URL, {"page_size": 100})
    assert (again, queries) == (first, 0)
    detail, _ = _queries(api_client, f"{URL}kitchen/")
    assert _queries(api_client, f"{URL}kitchen/") == (detail, 0)

    # A stock change leaves the counts (active products) and the cache alone.
    with django_capture_on_commit_callbacks(execute=True):
        services.stock_adjust(product_id=product.pk, delta=-5)
    assert _queries(api_client, URL, {"page_size": 100}) == (first, 0)

    # A product leaving the category, and a category rename, show on the next read.
    with django_capture_on_commit_callbacks(execute=True):
        services.product_update(product=product, data={"is_active": False})
    body, queries = _queries(api_client, URL, {"page_size": 100})
    counts = {c["slug"]: c["product_count"] for c in body["results"]}
    assert queries > 0 and counts["kitchen"] == 0
    with django_capture_on_commit_callbacks(execute=True):
        response = staff_client.patch(f"{URL}kitchen/", {"name": "Cookware"}, format="json")
    assert response.status_code == 200, response.content
    assert _queries(api_client, f"{URL}kitchen/")[0]["name"] == "Cookware"


def test_category_reads_not_cached_for_staff_or_unknown_parameters(
    api_client, staff_client, tree, cache_on
):
    _queries(api_client, URL)
    assert _queries(staff_client, URL)[1] > 0
    assert _queries(api_client, URL, {"junk": "1"})[1] > 0
    assert _queries(api_client, URL, {"root": "true"})[1] > 0  # another query, another entry
    assert _queries(api_client, URL, {"root": "true"})[1] == 0
