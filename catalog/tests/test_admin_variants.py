"""Django admin for variants: options and variants edited on the product page through the
services, and bulk stock adjustments (a delta per variant, never an absolute level)."""

from decimal import Decimal

import pytest
from django.test import Client

from catalog.models import ProductAttribute, ProductOption, ProductVariant
from catalog.tests.factories import ProductFactory, ProductVariantFactory, default_variant
from users.tests.factories import UserFactory

pytestmark = pytest.mark.django_db

PRODUCTS = "/admin/catalog/product/"
VARIANTS = "/admin/catalog/productvariant/"


@pytest.fixture
def admin_browser():
    client = Client()
    client.force_login(UserFactory(is_staff=True, is_superuser=True))
    return client


def _management(prefix: str, total: int, initial: int) -> dict:
    return {f"{prefix}-TOTAL_FORMS": str(total), f"{prefix}-INITIAL_FORMS": str(initial)}


def test_product_page_edits_options_variants_and_attributes_through_services(admin_browser):
    product = ProductFactory(variants=False, price=Decimal("10.00"))
    ProductVariantFactory(product=product, sku="TEE-S", options={"Size": "S"}, stock_quantity=2)
    option = ProductOption.objects.get(product=product)
    existing = ProductVariant.objects.get(product=product)
    assert admin_browser.get(f"{PRODUCTS}{product.pk}/change/").status_code == 200

    form = {
        "name": product.name, "sku": product.sku, "brand": product.brand,
        "category": product.category_id, "description": product.description,
        "is_active": "on",
        **_management("options", 1, 1),
        "options-0-id": option.pk, "options-0-product": product.pk,
        "options-0-name": "Size", "options-0-values_text": "S, M, L",
        **_management("variants", 2, 1),
        "variants-0-id": existing.pk, "variants-0-product": product.pk,
        "variants-0-sku": "TEE-S", "variants-0-price": "12.00",
        "variants-0-stock_quantity": "999",  # ignored: existing stock is never written back
        "variants-0-is_active": "on", "variants-0-position": "0",
        "variants-1-product": product.pk, "variants-1-sku": "TEE-M",
        "variants-1-options_text": "Size: M", "variants-1-price": "14.00",
        "variants-1-stock_quantity": "3", "variants-1-is_active": "on",
        "variants-1-position": "1",
        **_management("attributes", 1, 0),
        "attributes-0-product": product.pk, "attributes-0-name": "Material",
        "attributes-0-value": "Cotton",
        **_management("images", 0, 0),
    }  # fmt: skip

    response = admin_browser.post(f"{PRODUCTS}{product.pk}/change/", form)

    assert response.status_code == 302, response.content[:3000]
    variants = {v.sku: v for v in ProductVariant.objects.filter(product=product)}
    assert (variants["TEE-S"].price, variants["TEE-S"].stock_quantity) == (Decimal("12.00"), 2)
    assert (variants["TEE-M"].name, variants["TEE-M"].stock_quantity) == ("M", 3)
    assert [v.value for v in option.values.all()] == ["S", "M", "L"]
    assert list(ProductAttribute.objects.values_list("name", "value")) == [("Material", "Cotton")]
    product.refresh_from_db()
    assert (product.price, product.price_max) == (Decimal("12.00"), Decimal("14.00"))


def test_duplicate_combination_in_the_admin_is_a_message_not_an_error(admin_browser):
    product = ProductFactory(variants=False)
    ProductVariantFactory(product=product, sku="TEE-S", options={"Size": "S"})
    option = ProductOption.objects.get(product=product)
    existing = ProductVariant.objects.get(product=product)
    form = {
        "name": product.name, "sku": product.sku, "brand": product.brand,
        "category": product.category_id, "description": product.description,
        **_management("options", 1, 1),
        "options-0-id": option.pk, "options-0-product": product.pk,
        "options-0-name": "Size", "options-0-values_text": "S",
        **_management("variants", 2, 1),
        "variants-0-id": existing.pk, "variants-0-product": product.pk,
        "variants-0-sku": "TEE-S", "variants-0-price": "19.99", "variants-0-position": "0",
        "variants-0-stock_quantity": "10", "variants-0-is_active": "on",
        "variants-1-product": product.pk, "variants-1-sku": "TEE-S2",
        "variants-1-options_text": "Size: S", "variants-1-price": "14.00",
        "variants-1-position": "1", "variants-1-stock_quantity": "0",
        **_management("attributes", 0, 0),
        **_management("images", 0, 0),
    }  # fmt: skip

    response = admin_browser.post(f"{PRODUCTS}{product.pk}/change/", form, follow=True)

    assert response.status_code == 200
    assert b"Variant not saved" in response.content
    assert ProductVariant.objects.filter(product=product).count() == 1


def test_bulk_stock_action_adds_a_delta_and_refuses_going_negative(admin_browser):
    low = default_variant(ProductFactory(stock_quantity=1))
    high = default_variant(ProductFactory(stock_quantity=10))
    assert admin_browser.get(VARIANTS, {"q": low.sku}).status_code == 200

    ids = [str(low.pk), str(high.pk)]
    admin_browser.post(VARIANTS, {"action": "adjust_stock", "delta": "5", "_selected_action": ids})
    low.refresh_from_db()
    high.refresh_from_db()
    assert (low.stock_quantity, high.stock_quantity) == (6, 15)

    response = admin_browser.post(
        VARIANTS,
        {"action": "adjust_stock", "delta": "-8", "_selected_action": ids},
        follow=True,
    )
    low.refresh_from_db()
    high.refresh_from_db()
    assert (low.stock_quantity, high.stock_quantity) == (6, 7)
    assert b"Not adjusted" in response.content
