"""URLs of the payments app, mounted under /api/v1/."""

from django.urls import path

from payments.views import (
    GuestOrderPaymentCreateView,
    OrderPaymentConfirmView,
    OrderPaymentCreateView,
    OrderRefundCreateView,
    StripeWebhookView,
)

urlpatterns = [
    path(
        "orders/<int:order_id>/payments/", OrderPaymentCreateView.as_view(), name="order-payments"
    ),
    path(
        "orders/<int:order_id>/payments/<int:payment_id>/confirm/",
        OrderPaymentConfirmView.as_view(),
        name="order-payment-confirm",
    ),
    path(
        "orders/guest/<str:guest_token>/payments/",
        GuestOrderPaymentCreateView.as_view(),
        name="order-guest-payments",
    ),
    path("orders/<int:order_id>/refunds/", OrderRefundCreateView.as_view(), name="order-refunds"),
    path("payments/stripe/webhook/", StripeWebhookView.as_view(), name="stripe-webhook"),
]
