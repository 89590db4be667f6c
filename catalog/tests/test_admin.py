"""Django admin for the catalog: list filters, search, bulk actions, saves via services."""

import pytest
from django.test import Client

from catalog.models import Product, ProductImage
from catalog.tests.factories import CategoryFactory, ProductFactory, ProductImageFactory
from users.tests.factories import UserFactory

pytestmark = pytest.mark.django_db

URL = "/admin/catalog/product/"
# The product page's other inlines (options, variants, attributes), left empty.
NO_INLINES = {
    f"{prefix}-{key}": "0"
    for prefix in ("options", "variants", "attributes")
    for key in ("TOTAL_FORMS", "INITIAL_FORMS")
}


@pytest.fixture
def admin_browser():
    client = Client()
    client.force_login(UserFactory(is_staff=True, is_superuser=True))
    return client


def test_admin_product_list_filters_and_search(admin_browser):
    ProductFactory(name="Red kettle", sku="KET-1", stock_quantity=0)
    ProductFactory(name="Blue mug", sku="MUG-1", brand="Zeta", stock_quantity=3)

    assert b"Red kettle" in admin_browser.get(URL, {"q": "KET"}).content
    assert b"Red kettle" not in admin_browser.get(URL, {"q": "zeta"}).content
    low = admin_browser.get(URL, {"stock": "low"}).content
    assert b"Blue mug" in low and b"Red kettle" not in low
    filtered = admin_browser.get(URL, {"is_active__exact": "1", "is_featured__exact": "0"})
    assert filtered.status_code == 200 and b"Blue mug" in filtered.content


def test_admin_bulk_deactivate_and_activate(admin_browser):
    products = ProductFactory.create_batch(2)
    ids = [str(p.pk) for p in products]

    admin_browser.post(URL, {"action": "deactivate", "_selected_action": ids})
    assert not Product.objects.filter(is_active=True).exists()
    admin_browser.post(URL, {"action": "activate", "_selected_action": ids})
    assert Product.objects.filter(is_active=True).count() == 2


def test_admin_add_product_generates_slug_and_change_page_renders(admin_browser):
    category = CategoryFactory()
    response = admin_browser.post(
        f"{URL}add/",
        {
            "name": "Desk Lamp",
            "sku": "LAMP-1",
            "brand": "Lumen",
            "category": category.pk,
            "description": "",
            "price": "12.50",
            "stock_quantity": "4",
            "is_active": "on",
            "images-TOTAL_FORMS": "0",
            "images-INITIAL_FORMS": "0",
            **NO_INLINES,
        },
    )

    assert response.status_code == 302, response.content[:2000]
    product = Product.objects.get(sku="LAMP-1")
    assert product.slug == "desk-lamp" and product.stock_quantity == 4
    assert admin_browser.get(f"{URL}{product.pk}/change/").status_code == 200


def test_admin_refuses_two_primary_images(admin_browser):
    product = ProductFactory()
    images = ProductImageFactory.create_batch(2, product=product)
    images[0].is_primary = True
    images[0].save()
    form = {
        "name": product.name,
        "sku": product.sku,
        "brand": product.brand,
        "category": product.category_id,
        "description": product.description,
        "price": "19.99",
        "is_active": "on",
        "images-TOTAL_FORMS": "2",
        "images-INITIAL_FORMS": "2",
        **NO_INLINES,
    }
    for n, image in enumerate(images):
        form.update(
            {
                f"images-{n}-id": image.pk,
                f"images-{n}-product": product.pk,
                f"images-{n}-alt_text": "x",
                f"images-{n}-is_primary": "on",
            }
        )

    response = admin_browser.post(f"{URL}{product.pk}/change/", form)

    assert response.status_code == 200
    assert b"Only one image can be the primary image." in response.content
    assert ProductImage.objects.filter(is_primary=True).count() == 1


def _change_form(product, rows: list[dict], initial: int) -> dict:
    form = {
        "name": product.name,
        "sku": product.sku,
        "brand": product.brand,
        "category": product.category_id,
        "description": product.description,
        "price": "19.99",
        "is_active": "on",
        "images-TOTAL_FORMS": str(len(rows)),
        "images-INITIAL_FORMS": str(initial),
        **NO_INLINES,
    }
    for n, row in enumerate(rows):
        form.update({f"images-{n}-{key}": value for key, value in row.items()})
    return form


def test_admin_image_upload_goes_through_the_image_service(admin_browser, settings, tmp_path):
    from catalog.tests.factories import png_upload

    settings.MEDIA_ROOT = tmp_path
    product = ProductFactory()
    upload = png_upload("../../evil name.png")
    form = _change_form(product, [{"product": product.pk, "alt_text": "front"}], 0)
    form["images-0-image"] = upload

    response = admin_browser.post(f"{URL}{product.pk}/change/", form)

    assert response.status_code == 302, response.content[:2000]
    image = ProductImage.objects.get(product=product)
    # The service's rules: the first image is primary, the file gets a random name.
    assert image.is_primary and image.alt_text == "front"
    assert "evil" not in image.image.name


def test_admin_image_delete_promotes_the_next_image(admin_browser):
    product = ProductFactory()
    first = ProductImageFactory(product=product, is_primary=True)
    second = ProductImageFactory(product=product)
    rows = [
        {
            "id": first.pk,
            "product": product.pk,
            "alt_text": "a",
            "is_primary": "on",
            "DELETE": "on",
        },
        {"id": second.pk, "product": product.pk, "alt_text": "b"},
    ]

    response = admin_browser.post(f"{URL}{product.pk}/change/", _change_form(product, rows, 2))

    assert response.status_code == 302, response.content[:2000]
    second.refresh_from_db()
    assert second.is_primary
    assert not ProductImage.objects.filter(pk=first.pk).exists()


def test_admin_deletes_a_product_with_its_variants(admin_browser):
    """The delete page and the bulk delete action work for a superuser: the variant
    admin's refusal to delete variants on their own must not block deleting a product."""
    product, other = ProductFactory(), ProductFactory()

    page = admin_browser.get(f"{URL}{product.pk}/delete/")
    assert page.status_code == 200 and b"Are you sure" in page.content
    response = admin_browser.post(f"{URL}{product.pk}/delete/", {"post": "yes"})
    assert response.status_code == 302
    assert not Product.objects.filter(pk=product.pk).exists()

    response = admin_browser.post(
        URL, {"action": "delete_selected", "_selected_action": [str(other.pk)], "post": "yes"}
    )
    assert response.status_code == 302
    assert not Product.objects.filter(pk=other.pk).exists()
