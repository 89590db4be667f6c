"""Product endpoints through the HTTP API: visibility, writes, filters, search, ordering."""

from decimal import Decimal

import pytest
from django.db import connection

from catalog.models import Product
from catalog.tests.factories import CategoryFactory, ProductFactory, variant_set
from nexus.testing import problem_codes

pytestmark = pytest.mark.django_db

URL = "/api/v1/products/"


def _ids(response) -> list[int]:
    assert response.status_code == 200, response.content
    return [item["id"] for item in response.json()["results"]]


def test_product_list_public_sees_active_only_staff_sees_all(api_client, staff_client):
    active = ProductFactory()
    hidden = ProductFactory(is_active=False)

    assert _ids(api_client.get(URL)) == [active.pk]
    assert set(_ids(staff_client.get(URL))) == {active.pk, hidden.pk}
    assert _ids(staff_client.get(URL, {"is_active": "false"})) == [hidden.pk]


def test_product_detail_shape_by_id_and_slug(api_client, settings):
    settings.NEXUS_CURRENCY = "EUR"
    product = ProductFactory(price=Decimal("999.9"), name="Blue mug")

    by_id = api_client.get(f"{URL}{product.pk}/")
    by_slug = api_client.get(f"{URL}{product.slug}/")

    assert by_id.status_code == by_slug.status_code == 200
    body = by_id.json()
    assert body == by_slug.json()
    assert set(body) == {
        "id", "name", "slug", "sku", "brand", "description", "price", "currency", "category",
        "stock_quantity", "in_stock", "is_active", "is_featured", "images", "average_rating",
        "review_count", "rating_histogram", "created_at", "updated_at",
        # added by variants (v1.1)
        "price_max", "options", "variants", "attributes",
    }  # fmt: skip
    assert body["price"] == "999.90"
    assert body["currency"] == "EUR"
    assert body["category"] == {
        "id": product.category_id,
        "name": product.category.name,
        "slug": product.category.slug,
    }
    assert body["in_stock"] is True
    assert body["created_at"].endswith("Z") or "+" in body["created_at"]


def test_product_detail_inactive_is_404_for_public_not_for_staff(api_client, staff_client):
    product = ProductFactory(is_active=False)

    assert problem_codes(api_client.get(f"{URL}{product.pk}/")) == (404, "not_found")
    assert staff_client.get(f"{URL}{product.slug}/").status_code == 200


def test_product_detail_unknown_or_huge_id_is_404(api_client):
    assert problem_codes(api_client.get(f"{URL}999999/")) == (404, "not_found")
    assert problem_codes(api_client.get(f"{URL}{'9' * 40}/")) == (404, "not_found")


def test_product_create_requires_staff(api_client, user_client):
    category = CategoryFactory()
    body = {"name": "Mug", "sku": "MUG-1", "price": "3.50", "category": category.pk}

    assert problem_codes(api_client.post(URL, body)) == (401, "not_authenticated")
    assert problem_codes(user_client.post(URL, body)) == (403, "permission_denied")
    assert not Product.objects.exists()


def test_product_create_generates_distinct_slugs_for_alike_names(staff_client):
    category = CategoryFactory()
    slugs = []
    for n in range(3):
        response = staff_client.post(
            URL,
            {"name": "Blue Mug", "sku": f"MUG-{n}", "price": "3.50", "category": category.pk},
        )
        assert response.status_code == 201, response.content
        slugs.append(response.json()["slug"])

    assert slugs == ["blue-mug", "blue-mug-2", "blue-mug-3"]


def test_product_create_numeric_name_gets_a_slug_that_is_not_an_id(staff_client, api_client):
    category = CategoryFactory()
    response = staff_client.post(
        URL, {"name": "1984", "sku": "BOOK-1984", "price": "9.00", "category": category.pk}
    )

    assert response.status_code == 201
    slug = response.json()["slug"]
    assert not slug.isdigit()
    assert api_client.get(f"{URL}{slug}/").json()["name"] == "1984"


def test_product_create_rejects_bad_input_as_problems(staff_client):
    category = CategoryFactory()
    ProductFactory(sku="TAKEN")
    base = {"name": "Mug", "sku": "NEW", "price": "3.50", "category": category.pk}

    cases = [
        ({**base, "sku": "TAKEN"}, "sku", "unique"),
        ({**base, "price": "-1"}, "price", "min_value"),
        ({**base, "stock_quantity": -1}, "stock_quantity", "min_value"),
        ({**base, "category": 999999}, "category", "does_not_exist"),
        ({**base, "price": "abc"}, "price", "invalid"),
    ]
    for body, field, code in cases:
        response = staff_client.post(URL, body)
        assert problem_codes(response) == (400, "validation_error"), body
        assert {"field": field, "code": code} in [
            {"field": e["field"], "code": e["code"]} for e in response.json()["errors"]
        ], response.json()


def test_product_update_keeps_slug_and_changes_fields(staff_client, api_client):
    product = ProductFactory(name="Old name", slug="old-name")

    response = staff_client.patch(f"{URL}{product.pk}/", {"name": "New name", "price": "5.00"})

    assert response.status_code == 200, response.content
    assert response.json()["slug"] == "old-name"
    assert api_client.get(f"{URL}old-name/").json()["name"] == "New name"


def test_product_update_sku_to_a_taken_one_is_400(staff_client):
    ProductFactory(sku="A")
    product = ProductFactory(sku="B")

    response = staff_client.patch(f"{URL}{product.pk}/", {"sku": "A"})

    assert problem_codes(response) == (400, "validation_error")
    assert response.json()["errors"][0]["field"] == "sku"


def test_product_delete_without_references_deletes(staff_client, user_client):
    product = ProductFactory()

    assert problem_codes(user_client.delete(f"{URL}{product.pk}/")) == (403, "permission_denied")
    assert staff_client.delete(f"{URL}{product.pk}/").status_code == 204
    assert not Product.objects.filter(pk=product.pk).exists()


def _protecting_table(product_id: int) -> None:
    """A foreign key Django does not know about (like an order line), refusing deletes."""
    with connection.cursor() as cursor:
        cursor.execute(
            "CREATE TABLE test_order_line (id integer PRIMARY KEY, product_id bigint NOT NULL "
            "REFERENCES catalog_product (id) ON DELETE RESTRICT)"
        )
        cursor.execute("INSERT INTO test_order_line VALUES (1, %s)", [product_id])


def test_product_delete_of_referenced_product_deactivates_it(staff_client, api_client):
    product = ProductFactory()
    _protecting_table(product.pk)

    response = staff_client.delete(f"{URL}{product.pk}/")

    assert response.status_code == 200, response.content
    assert response.json()["is_active"] is False
    product.refresh_from_db()
    assert product.is_active is False
    assert problem_codes(api_client.get(f"{URL}{product.pk}/")) == (404, "not_found")


def test_product_stock_adjust(staff_client, user_client):
    product = ProductFactory(stock_quantity=3)
    url = f"{URL}{product.pk}/stock/"

    assert problem_codes(user_client.post(url, {"delta": 5})) == (403, "permission_denied")
    assert staff_client.post(url, {"delta": 5}).json()["stock_quantity"] == 8
    assert problem_codes(staff_client.post(url, {"delta": -9})) == (409, "out_of_stock")
    assert staff_client.post(url, {"delta": -8}).json()["in_stock"] is False
    assert problem_codes(staff_client.post(url, {"delta": "x"})) == (400, "validation_error")


# ----------------------------------------------------------------- filters and ordering


def test_product_filter_category_by_id_or_slug_includes_subcategories(api_client, tree):
    laptop = ProductFactory(category=tree["laptops"])
    computer = ProductFactory(category=tree["computers"])
    ProductFactory(category=tree["kitchen"])

    for value in (tree["computers"].pk, "computers"):
        assert set(_ids(api_client.get(URL, {"category": value}))) == {laptop.pk, computer.pk}
    assert _ids(api_client.get(URL, {"category": "laptops"})) == [laptop.pk]
    assert _ids(api_client.get(URL, {"category": "no-such-category"})) == []


def test_product_filters_brand_price_stock_featured_rating(api_client):
    cheap = ProductFactory(brand="Acme", price=Decimal("5"), stock_quantity=0)
    mid = ProductFactory(brand="Zeta", price=Decimal("50"), is_featured=True)
    dear = ProductFactory(brand="Zeta", price=Decimal("500"), average_rating=Decimal("4.5"))

    assert _ids(api_client.get(URL, {"brand": "acme"})) == [cheap.pk]
    assert set(_ids(api_client.get(URL, {"price_min": "10", "price_max": "500"}))) == {
        mid.pk,
        dear.pk,
    }
    assert _ids(api_client.get(URL, {"in_stock": "false"})) == [cheap.pk]
    assert set(_ids(api_client.get(URL, {"in_stock": "true"}))) == {mid.pk, dear.pk}
    assert _ids(api_client.get(URL, {"is_featured": "true"})) == [mid.pk]
    assert _ids(api_client.get(URL, {"rating_min": "4"})) == [dear.pk]


def test_product_filters_reject_bad_values(api_client):
    for params in ({"price_min": "abc"}, {"ordering": "stock"}, {"rating_min": "9"}):
        assert problem_codes(api_client.get(URL, params)) == (400, "validation_error"), params


def test_product_ordering(api_client):
    a = ProductFactory(name="Apple", price=Decimal("3"), average_rating=Decimal("2"))
    b = ProductFactory(name="Banana", price=Decimal("1"), average_rating=Decimal("5"))
    c = ProductFactory(name="Cherry", price=Decimal("2"), average_rating=Decimal("1"))

    assert _ids(api_client.get(URL)) == [c.pk, b.pk, a.pk]  # newest first by default
    assert _ids(api_client.get(URL, {"ordering": "created_at"})) == [a.pk, b.pk, c.pk]
    assert _ids(api_client.get(URL, {"ordering": "price"})) == [b.pk, c.pk, a.pk]
    assert _ids(api_client.get(URL, {"ordering": "-price"})) == [a.pk, c.pk, b.pk]
    assert _ids(api_client.get(URL, {"ordering": "name"})) == [a.pk, b.pk, c.pk]
    assert _ids(api_client.get(URL, {"ordering": "-name"})) == [c.pk, b.pk, a.pk]
    assert _ids(api_client.get(URL, {"ordering": "-average_rating"})) == [b.pk, a.pk, c.pk]
    assert _ids(api_client.get(URL, {"ordering": "average_rating"})) == [c.pk, a.pk, b.pk]


def test_product_search_matches_name_partial_word_sku_brand_and_description(api_client):
    laptop = ProductFactory(name="Laptop Pro 14", sku="LP-14-XYZ", brand="Northwind")
    mug = ProductFactory(name="Mug", description="Holds coffee, keeps it warm")
    ProductFactory(name="Chair", description="Sturdy")

    assert _ids(api_client.get(URL, {"search": "lapt"})) == [laptop.pk]
    assert _ids(api_client.get(URL, {"search": "14-XY"})) == [laptop.pk]
    assert _ids(api_client.get(URL, {"search": "northwind"})) == [laptop.pk]
    assert _ids(api_client.get(URL, {"search": "coffee"})) == [mug.pk]
    assert _ids(api_client.get(URL, {"search": "nothing-like-this"})) == []
    assert _ids(api_client.get(URL, {"search": "  "})) != []
    assert _ids(api_client.get(URL, {"search": "%_!"})) == []
    assert _ids(api_client.get(URL, {"search": "-XYZ"})) == [laptop.pk]


def test_product_search_hides_inactive(api_client):
    ProductFactory(name="Hidden lamp", is_active=False)

    assert _ids(api_client.get(URL, {"search": "lamp"})) == []


def test_product_search_ranks_name_matches_first_unless_ordered(api_client, settings):
    in_description = ProductFactory(name="Bag", description="Fits a laptop", price=Decimal("1"))
    in_name = ProductFactory(name="Laptop stand", description="Aluminium", price=Decimal("9"))

    ranked = _ids(api_client.get(URL, {"search": "laptop"}))
    by_price = _ids(api_client.get(URL, {"search": "laptop", "ordering": "price"}))

    assert by_price == [in_description.pk, in_name.pk]
    if settings.IS_POSTGRES:  # SQLite has no ranking: newest first
        assert ranked == [in_name.pk, in_description.pk]
    else:
        assert set(ranked) == {in_name.pk, in_description.pk}


def test_product_list_pagination(api_client):
    ProductFactory.create_batch(5)

    first = api_client.get(URL, {"page_size": 2}).json()
    last = api_client.get(URL, {"page_size": 2, "page": 3}).json()

    assert first["count"] == 5 and len(first["results"]) == 2 and first["next"]
    assert last["next"] is None and len(last["results"]) == 1
    assert problem_codes(api_client.get(URL, {"page": 9})) == (404, "not_found")
    assert len(api_client.get(URL, {"page_size": 1000}).json()["results"]) == 5


def test_rating_histogram_always_has_five_stars(api_client):
    product = ProductFactory(rating_histogram={"5": 2})
    body = api_client.get(f"/api/v1/products/{product.id}/").json()
    assert body["rating_histogram"] == {"1": 0, "2": 0, "3": 0, "4": 0, "5": 2}


def test_product_edit_never_writes_back_stock(staff_client):
    product = ProductFactory(stock_quantity=10)
    body = staff_client.get(f"/api/v1/products/{product.id}/").json()
    # A checkout takes 3 units between the staff member's read and their save.
    variant_set(product, stock_quantity=7)  # stock lives on variants
    payload = {
        "name": body["name"],
        "sku": body["sku"],
        "price": "29.99",
        "stock_quantity": body["stock_quantity"],
        "category": body["category"]["id"],
    }
    response = staff_client.put(f"/api/v1/products/{product.id}/", payload)
    assert response.status_code == 200, response.json()
    product.refresh_from_db()
    assert product.price == Decimal("29.99")
    assert product.stock_quantity == 7
