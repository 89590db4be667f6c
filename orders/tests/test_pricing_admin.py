"""The admin pages of the pricing rules save through the pricing services (codes
normalised, used_count never written), and an order's page shows its price breakdown."""

from decimal import Decimal

import pytest
from django.test import Client

from orders.models import ShippingMethod, TaxRate, Voucher
from orders.tests.factories import place_order

pytestmark = pytest.mark.django_db


@pytest.fixture
def admin_client_(admin_user) -> Client:
    client = Client()
    client.force_login(admin_user)
    return client


def test_voucher_added_and_changed_in_the_admin_goes_through_the_service(admin_client_):
    response = admin_client_.post(
        "/admin/orders/voucher/add/",
        {
            "code": " autumn ",
            "kind": "fixed",
            "value": "5.00",
            "min_subtotal": "0.00",
            "is_active": "on",
        },
    )
    assert response.status_code == 302, response.content.decode()[:2000]
    voucher = Voucher.objects.get()
    assert voucher.code == "AUTUMN"
    Voucher.objects.filter(pk=voucher.pk).update(used_count=2)  # as checkouts would
    response = admin_client_.post(
        f"/admin/orders/voucher/{voucher.pk}/change/",
        {"code": "AUTUMN", "kind": "fixed", "value": "7.00", "min_subtotal": "0.00"},
    )
    assert response.status_code == 302
    voucher.refresh_from_db()
    assert (voucher.value, voucher.used_count, voucher.is_active) == (Decimal("7.00"), 2, False)
    assert admin_client_.get("/admin/orders/voucher/").status_code == 200


def test_shipping_and_tax_pages(admin_client_):
    response = admin_client_.post(
        "/admin/orders/shippingmethod/add/",
        {"code": "dhl", "name": "DHL", "price": "4.90", "countries": '["de"]', "is_active": "on"},
    )
    assert response.status_code == 302, response.content.decode()[:2000]
    assert ShippingMethod.objects.get().countries == ["DE"]
    response = admin_client_.post(
        "/admin/orders/taxrate/add/", {"country": "DE", "region": " BY ", "rate": "7.00"}
    )
    assert response.status_code == 302
    assert TaxRate.objects.get().region == "BY"
    for page in ("shippingmethod", "taxrate"):
        assert admin_client_.get(f"/admin/orders/{page}/").status_code == 200


def test_order_page_shows_the_breakdown(admin_client_, user):
    TaxRate.objects.create(country="GB", rate=Decimal("20.00"))
    order = place_order(user)
    page = admin_client_.get(f"/admin/orders/order/{order.pk}/change/").content.decode()
    for label in ("Discount total", "Tax total", "Shipping tax amount", "Tax rate", "Tax amount"):
        assert label in page
    assert str(order.tax_total) in page
