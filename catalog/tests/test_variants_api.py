"""Variants, options and attributes through the API: v1-compatible product writes, create
with options and variants, the staff variant endpoints and per-variant stock, the new
filters and their bad input (always a 4xx problem, never a 500), and the public cache."""

from decimal import Decimal

import pytest

from catalog.models import Product, ProductOptionValue, ProductVariant
from catalog.services import _product_prices_refresh
from catalog.tests.factories import (
    CategoryFactory,
    ProductAttributeFactory,
    ProductFactory,
    ProductVariantFactory,
    default_variant,
)
from nexus.testing import problem_codes
from orders.tests.factories import OrderItemFactory

pytestmark = pytest.mark.django_db

URL = "/api/v1/products/"


def _shirt_body(category, **extra) -> dict:
    return {
        "name": "Tee",
        "category": category.pk,
        "options": [
            {"name": "Size", "values": ["S", "M", "L"]},
            {"name": "Color", "values": ["Red", "Blue"]},
        ],
        "variants": [
            {"sku": "TEE-S-RED", "options": {"Size": "S", "Color": "Red"}, "price": "20.00",
             "stock_quantity": 4},
            {"sku": "TEE-M-RED", "options": {"Size": "M", "Color": "Red"}, "price": "22.00",
             "compare_at_price": "30.00", "stock_quantity": 0},
            {"sku": "TEE-L-BLUE", "options": {"size": "l", "color": "BLUE"}, "price": "25.00",
             "stock_quantity": 6},
        ],
        "attributes": [{"name": "Material", "value": "Cotton"}],
        **extra,
    }  # fmt: skip


def _tee(category=None, **overrides):
    """A product with Size x Color variants through the factories."""
    product = ProductFactory(variants=False, category=category or CategoryFactory(), **overrides)
    variants = {
        "S-Red": ProductVariantFactory(
            product=product, options={"Size": "S", "Color": "Red"}, price=Decimal("20.00"),
            stock_quantity=3,
        ),
        "M-Red": ProductVariantFactory(
            product=product, options={"Size": "M", "Color": "Red"}, price=Decimal("24.00"),
            stock_quantity=0,
        ),
        "M-Blue": ProductVariantFactory(
            product=product, options={"Size": "M", "Color": "Blue"}, price=Decimal("26.00"),
            stock_quantity=5,
        ),
    }  # fmt: skip
    _product_prices_refresh(product.pk)
    return product, variants


# --------------------------------------------------------------------------- writes


def test_v1_create_makes_one_default_variant_with_the_v1_fields(staff_client):
    category = CategoryFactory()
    body = {"name": "Mug", "sku": "MUG-9", "price": "7.50", "stock_quantity": 4}
    response = staff_client.post(URL, {**body, "category": category.pk}, format="json")

    assert response.status_code == 201, response.content
    data = response.json()
    assert (data["sku"], data["price"], data["price_max"]) == ("MUG-9", "7.50", "7.50")
    assert (data["stock_quantity"], data["in_stock"]) == (4, True)
    assert data["options"] == [] and data["attributes"] == []
    [variant] = data["variants"]
    assert variant == {
        "id": variant["id"], "sku": "MUG-9", "name": "", "options": {}, "price": "7.50",
        "compare_at_price": None, "stock_quantity": 4, "in_stock": True, "is_active": True,
        "position": 0,
    }  # fmt: skip


def test_create_with_options_and_variants(staff_client, api_client):
    response = staff_client.post(URL, _shirt_body(CategoryFactory()), format="json")

    assert response.status_code == 201, response.content
    data = response.json()
    assert data["sku"] == "TEE-S-RED"  # defaults to the first variant's SKU
    assert (data["price"], data["price_max"], data["stock_quantity"]) == ("20.00", "25.00", 10)
    assert data["options"] == [
        {"name": "Size", "values": ["S", "M", "L"]},
        {"name": "Color", "values": ["Red", "Blue"]},
    ]
    assert [(v["sku"], v["name"], v["options"]) for v in data["variants"]] == [
        ("TEE-S-RED", "S / Red", {"Size": "S", "Color": "Red"}),
        ("TEE-M-RED", "M / Red", {"Size": "M", "Color": "Red"}),
        ("TEE-L-BLUE", "L / Blue", {"Size": "L", "Color": "Blue"}),
    ]
    assert data["variants"][1]["compare_at_price"] == "30.00"
    assert data["attributes"] == [{"name": "Material", "value": "Cotton"}]
    assert api_client.get(f"{URL}{data['slug']}/").json()["variants"] == data["variants"]


@pytest.mark.parametrize(
    ("change", "expected"),
    [
        # the same combination twice (names and values are case-insensitive)
        (lambda b: b["variants"][2]["options"].update(Size="s", Color="red"),
         (409, "duplicate_variant")),
        (lambda b: b["variants"][0]["options"].update(Fit="Slim"), (400, "validation_error")),
        (lambda b: b["variants"][0]["options"].update(Size="XXL"), (400, "validation_error")),
        (lambda b: b["variants"][0]["options"].pop("Color"), (400, "validation_error")),
        (lambda b: b["variants"][1].update(sku="TEE-S-RED"), (400, "validation_error")),
        (lambda b: b["variants"][1].update(compare_at_price="1.00"), (400, "validation_error")),
        (lambda b: b["options"][1]["values"].append("red"), (400, "validation_error")),
        (lambda b: b.update(price="3.00"), (400, "validation_error")),
        (lambda b: b.update(variants=[]), (400, "validation_error")),
        (lambda b: b["variants"][0].update(options="Size:S"), (400, "validation_error")),
        (lambda b: b.update(options=[{"name": "Size"}]), (400, "validation_error")),
    ],
)  # fmt: skip
def test_create_with_bad_variants_is_refused_and_writes_nothing(staff_client, change, expected):
    body = _shirt_body(CategoryFactory())
    change(body)

    response = staff_client.post(URL, body, format="json")

    assert problem_codes(response) == expected, response.json()
    assert not Product.objects.exists() and not ProductVariant.objects.exists()


def test_create_error_codes_name_the_option_problem(staff_client):
    body = _shirt_body(CategoryFactory())
    body["variants"][0]["options"]["Fit"] = "Slim"
    errors = staff_client.post(URL, body, format="json").json()["errors"]
    assert errors[0]["field"] == "variants.0.options" and errors[0]["code"] == "unknown_option"

    body = _shirt_body(CategoryFactory())
    body["variants"][0]["options"]["Size"] = "XXL"
    errors = staff_client.post(URL, body, format="json").json()["errors"]
    assert errors[0]["code"] == "unknown_option_value"


def test_v1_price_patch_changes_a_single_variant_and_refuses_several(staff_client):
    single = ProductFactory(price=Decimal("5.00"))
    response = staff_client.patch(f"{URL}{single.pk}/", {"price": "6.00"}, format="json")
    assert response.status_code == 200, response.content
    assert response.json()["price"] == "6.00"
    assert default_variant(single).price == Decimal("6.00")

    tee, _ = _tee()
    response = staff_client.patch(f"{URL}{tee.pk}/", {"price": "6.00"}, format="json")
    assert problem_codes(response) == (400, "variant_required")
    assert response.json()["errors"][0]["field"] == "price"


def test_v1_sku_patch_renames_the_default_variant_too(staff_client):
    product = ProductFactory(sku="OLD-1")
    response = staff_client.patch(f"{URL}{product.pk}/", {"sku": "NEW-1"}, format="json")
    assert response.status_code == 200
    assert default_variant(product).sku == "NEW-1"
    other = ProductFactory()
    response = staff_client.patch(f"{URL}{other.pk}/", {"sku": "NEW-1"}, format="json")
    assert problem_codes(response) == (400, "validation_error")


def test_options_and_attributes_can_be_replaced_but_used_values_stay(staff_client):
    tee, _ = _tee()
    url = f"{URL}{tee.pk}/"
    keep = [
        {"name": "Size", "values": ["M", "S", "L"]},
        {"name": "Color", "values": ["Blue", "Red"]},
    ]
    response = staff_client.patch(url, {"options": keep}, format="json")
    assert response.status_code == 200, response.content
    assert response.json()["options"][0]["values"] == ["M", "S", "L"]

    drop_red = [{"name": "Size", "values": ["S", "M"]}, {"name": "Color", "values": ["Blue"]}]
    assert problem_codes(staff_client.patch(url, {"options": drop_red}, format="json")) == (
        409,
        "option_in_use",
    )
    new_option = [*keep, {"name": "Fit", "values": ["Slim"]}]
    assert problem_codes(staff_client.patch(url, {"options": new_option}, format="json")) == (
        409,
        "option_in_use",
    )
    attributes = [{"name": "Material", "value": "Wool"}, {"name": "Care", "value": "Hand wash"}]
    response = staff_client.patch(url, {"attributes": attributes}, format="json")
    assert response.json()["attributes"] == attributes


# --------------------------------------------------------------------------- variant endpoints


def test_variant_endpoints_are_staff_only(api_client, user_client):
    tee, variants = _tee()
    for client in (api_client, user_client):
        assert client.get(f"{URL}{tee.pk}/variants/").status_code in (401, 403)
        response = client.post(
            f"{URL}{tee.pk}/variants/{variants['S-Red'].pk}/stock/", {"delta": 1}
        )
        assert response.status_code in (401, 403)


def test_variant_list_create_patch_delete(staff_client):
    tee, variants = _tee()
    base = f"{URL}{tee.slug}/variants/"

    listed = staff_client.get(base).json()
    assert listed["count"] == 3 and listed["results"][0]["options"] == {"Size": "S", "Color": "Red"}

    body = {"sku": "TEE-S-BLUE", "options": {"Size": "S", "Color": "Blue"}, "price": "19.00"}
    created = staff_client.post(base, body, format="json")
    assert created.status_code == 201, created.content
    assert created.json()["name"] == "S / Blue"
    assert staff_client.get(f"{URL}{tee.pk}/").json()["price"] == "19.00"

    again = staff_client.post(base, {**body, "sku": "OTHER"}, format="json")
    assert problem_codes(again) == (409, "duplicate_variant")
    taken = staff_client.post(
        base, {**body, "sku": variants["S-Red"].sku, "options": {"Size": "L", "Color": "Red"}}
    )
    assert problem_codes(taken) == (400, "validation_error")

    one = f"{base}{variants['M-Blue'].pk}/"
    patched = staff_client.patch(one, {"price": "30.00", "is_active": False}, format="json")
    assert patched.status_code == 200 and patched.json()["is_active"] is False
    assert staff_client.get(f"{URL}{tee.pk}/").json()["price_max"] == "24.00"  # active only
    clash = staff_client.patch(one, {"options": {"Size": "S", "Color": "Blue"}}, format="json")
    assert problem_codes(clash) == (409, "duplicate_variant")
    assert staff_client.delete(f"{base}{created.json()['id']}/").status_code == 204
    moved = staff_client.patch(one, {"options": {"size": "s", "color": "blue"}}, format="json")
    assert moved.json()["name"] == "S / Blue", moved.json()
    bad = staff_client.patch(one, {"compare_at_price": "1.00"}, format="json")
    assert problem_codes(bad) == (400, "validation_error")

    assert staff_client.delete(one).status_code == 204
    assert staff_client.get(one).status_code == 404


def test_variant_in_orders_is_deactivated_and_the_last_variant_stays(staff_client):
    tee, variants = _tee()
    OrderItemFactory(product=tee, variant=variants["S-Red"])
    url = f"{URL}{tee.pk}/variants/{variants['S-Red'].pk}/"

    response = staff_client.delete(url)
    assert response.status_code == 200 and response.json()["is_active"] is False
    assert ProductVariant.objects.filter(pk=variants["S-Red"].pk).exists()

    single = ProductFactory()
    last = f"{URL}{single.pk}/variants/{default_variant(single).pk}/"
    assert problem_codes(staff_client.delete(last)) == (409, "last_variant")


def test_variant_of_another_product_is_404(staff_client):
    _, variants = _tee()
    other = ProductFactory()
    assert staff_client.get(f"{URL}{other.pk}/variants/{variants['S-Red'].pk}/").status_code == 404
    assert staff_client.get(f"{URL}999999/variants/").status_code == 404


def test_variant_stock_adjust_and_product_stock_for_single_variants_only(staff_client):
    tee, variants = _tee()
    url = f"{URL}{tee.pk}/variants/{variants['S-Red'].pk}/stock/"

    response = staff_client.post(url, {"delta": 4}, format="json")
    assert response.status_code == 200 and response.json()["stock_quantity"] == 7
    assert problem_codes(staff_client.post(url, {"delta": -8}, format="json")) == (
        409,
        "out_of_stock",
    )
    assert problem_codes(staff_client.post(url, {"delta": "x"}, format="json"))[0] == 400
    refused = staff_client.post(f"{URL}{tee.pk}/stock/", {"delta": 1}, format="json")
    assert problem_codes(refused) == (409, "variant_required")

    single = ProductFactory(stock_quantity=2)
    response = staff_client.post(f"{URL}{single.pk}/stock/", {"delta": 3}, format="json")
    assert response.status_code == 200 and response.json()["stock_quantity"] == 5


# --------------------------------------------------------------------------- reads and filters


def test_public_sees_active_variants_and_their_summed_stock(api_client, staff_client):
    tee, variants = _tee()
    ProductVariant.objects.filter(pk=variants["M-Blue"].pk).update(is_active=False)

    public = api_client.get(f"{URL}{tee.pk}/").json()
    assert [v["sku"] for v in public["variants"]] == [variants["S-Red"].sku, variants["M-Red"].sku]
    assert (public["stock_quantity"], public["in_stock"]) == (3, True)
    assert len(staff_client.get(f"{URL}{tee.pk}/").json()["variants"]) == 3


def _ids(client, **params) -> set[int]:
    response = client.get(URL, {"page_size": 100, **params})
    assert response.status_code == 200, response.content
    return {item["id"] for item in response.json()["results"]}


def test_option_filter_same_option_or_different_options_and_one_variant(api_client):
    tee, _ = _tee()  # S/Red, M/Red (none left), M/Blue
    plain = ProductFactory()
    query = api_client.get

    assert _ids(api_client, option="Size:M") == {tee.pk}
    assert _ids(api_client, option="size:s") == {tee.pk}  # case-insensitive
    assert _ids(api_client, option=["Size:L", "Size:S"]) == {tee.pk}  # OR
    assert _ids(api_client, option=["Size:S", "Color:Blue"]) == set()  # no S/Blue variant
    assert _ids(api_client, option=["Size:M", "Color:Blue"]) == {tee.pk}
    # the price and stock conditions bind to the same variant as the options
    assert _ids(api_client, option="Color:Red", in_stock="true", price_min="21") == set()
    assert _ids(api_client, option="Color:Red", in_stock="true") == {tee.pk}
    assert _ids(api_client, option="Fit:Slim") == set()  # unknown option: nothing matches
    assert plain.pk in _ids(api_client)
    assert query(URL, {"option": "Size:M"}).json()["count"] == 1


@pytest.mark.parametrize("bad", ["Size", ":M", "Size:", "  :  ", "x" * 60 + ":M"])
def test_option_and_attribute_filters_bad_syntax_is_400(api_client, bad):
    for name in ("option", "attribute"):
        response = api_client.get(URL, {name: bad})
        assert problem_codes(response) == (400, "validation_error"), response.json()
        assert response.json()["errors"][0]["field"] == name


def test_attribute_filter(api_client):
    cotton = ProductFactory()
    ProductAttributeFactory(product=cotton, name="Material", value="Cotton")
    ProductAttributeFactory(product=cotton, name="Care", value="Machine wash")
    wool = ProductFactory()
    ProductAttributeFactory(product=wool, name="Material", value="Wool")

    assert _ids(api_client, attribute="material:cotton") == {cotton.pk}
    assert _ids(api_client, attribute=["Material:Cotton", "Material:Wool"]) == {cotton.pk, wool.pk}
    assert _ids(api_client, attribute=["Material:Wool", "Care:Machine wash"]) == set()


def test_price_and_stock_filters_and_ordering_act_on_active_variants(api_client, settings):
    settings.NEXUS_CATALOG_CACHE = False  # rows are changed behind the services below
    tee, variants = _tee()  # 20 (3 left), 24 (none), 26 (5 left)
    cheap = ProductFactory(price=Decimal("22.00"), stock_quantity=0)

    assert _ids(api_client, price_min="25", price_max="30") == {tee.pk}
    assert _ids(api_client, price_min="21", price_max="23") == {cheap.pk}
    assert _ids(api_client, in_stock="false") == {cheap.pk}
    assert _ids(api_client, in_stock="true") == {tee.pk}
    ordered = api_client.get(URL, {"ordering": "price"}).json()["results"]
    assert [item["id"] for item in ordered] == [tee.pk, cheap.pk]

    # Deactivating the cheapest variant moves the product's price up (and its order).
    ProductVariant.objects.filter(pk=variants["S-Red"].pk).update(is_active=False)
    _product_prices_refresh(tee.pk)
    assert _ids(api_client, price_max="21") == set()
    ordered = api_client.get(URL, {"ordering": "price"}).json()["results"]
    assert [item["id"] for item in ordered] == [cheap.pk, tee.pk]


def test_search_finds_variant_skus(api_client):
    tee, variants = _tee()
    ProductVariant.objects.filter(pk=variants["M-Blue"].pk).update(sku="ZX-ODD-4471")
    ProductFactory(name="Something else")

    assert _ids(api_client, search="ODD-4471") == {tee.pk}
    assert _ids(api_client, search="zx-odd") == {tee.pk}


def test_variant_write_shows_on_the_next_cached_read(
    api_client, staff_client, cache_on, django_capture_on_commit_callbacks
):
    tee, variants = _tee()
    assert api_client.get(f"{URL}{tee.pk}/").json()["stock_quantity"] == 8
    api_client.get(URL)

    with django_capture_on_commit_callbacks(execute=True):
        staff_client.post(
            f"{URL}{tee.pk}/variants/{variants['M-Red'].pk}/stock/", {"delta": 2}, format="json"
        )
    assert api_client.get(f"{URL}{tee.pk}/").json()["stock_quantity"] == 10
    with django_capture_on_commit_callbacks(execute=True):
        staff_client.patch(
            f"{URL}{tee.pk}/variants/{variants['S-Red'].pk}/", {"price": "9.00"}, format="json"
        )
    assert api_client.get(URL).json()["results"][0]["price"] == "9.00"
    assert api_client.get(f"{URL}{tee.pk}/").json()["variants"][0]["price"] == "9.00"


def test_option_values_keep_their_order(api_client):
    tee, _ = _tee()
    assert api_client.get(f"{URL}{tee.pk}/").json()["options"] == [
        {"name": "Size", "values": ["S", "M"]},
        {"name": "Color", "values": ["Red", "Blue"]},
    ]
    assert ProductOptionValue.objects.filter(option__product=tee).count() == 4


def test_cached_responses_keep_every_option_value_apart(api_client, cache_on):
    tee, _ = _tee()  # S/Red, M/Red, M/Blue
    assert _ids(api_client, option="Color:Red") == {tee.pk}
    # Same last value, different sets: never served each other's cached page.
    assert _ids(api_client, option=["Size:S", "Color:Blue"]) == set()
    assert _ids(api_client, option=["Size:M", "Color:Blue"]) == {tee.pk}
    assert _ids(api_client, option=["Color:Blue", "Size:S"]) == set()
