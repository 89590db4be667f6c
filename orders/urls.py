"""URLs of the orders app, mounted under /api/v1/."""

from django.urls import path
from rest_framework.routers import SimpleRouter

from orders.pricing_views import ShippingMethodViewSet, TaxRateViewSet, VoucherViewSet
from orders.views import (
    CheckoutPreviewView,
    GuestOrderCancelView,
    GuestOrderDetailView,
    OrderViewSet,
)

router = SimpleRouter()
router.register("orders", OrderViewSet, basename="order")
router.register("shipping-methods", ShippingMethodViewSet, basename="shipping-method")
router.register("tax-rates", TaxRateViewSet, basename="tax-rate")
router.register("vouchers", VoucherViewSet, basename="voucher")

urlpatterns = [
    path("checkout/preview/", CheckoutPreviewView.as_view(), name="checkout-preview"),
    path(
        "orders/guest/<str:guest_token>/",
        GuestOrderDetailView.as_view(),
        name="order-guest-detail",
    ),
    path(
        "orders/guest/<str:guest_token>/cancel/",
        GuestOrderCancelView.as_view(),
        name="order-guest-cancel",
    ),
    *router.urls,
]
