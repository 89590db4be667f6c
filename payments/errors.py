"""Domain errors of the payments app, each with a stable code and HTTP status."""

from rest_framework import status

from nexus.exceptions import DomainError


class OrderNotPayable(DomainError):
    status_code = status.HTTP_409_CONFLICT
    code = "order_not_payable"
    title = "Order cannot be paid"
    default_detail = "This order is already paid or cancelled."


class PaymentMethodNotOnline(DomainError):
    status_code = status.HTTP_409_CONFLICT
    code = "payment_method_not_online"
    title = "Not an online payment method"
    default_detail = "This order is paid by bank transfer or on delivery: staff record the payment."


class PaymentProviderError(DomainError):
    status_code = status.HTTP_502_BAD_GATEWAY
    code = "payment_provider_error"
    title = "Payment provider error"
    default_detail = "The payment provider could not be reached or refused the request. Retry."


class RefundExceedsPayment(DomainError):
    status_code = status.HTTP_409_CONFLICT
    code = "refund_exceeds_payment"
    title = "Refund exceeds payment"
    default_detail = "A refund cannot exceed what was paid and not yet refunded."


class WebhookSignatureInvalid(DomainError):
    status_code = status.HTTP_400_BAD_REQUEST
    code = "invalid_signature"
    title = "Invalid webhook signature"
    default_detail = "The Stripe-Signature header is missing, wrong or too old."


class WebhookNotConfigured(DomainError):
    status_code = status.HTTP_503_SERVICE_UNAVAILABLE
    code = "webhook_not_configured"
    title = "Webhook not configured"
    default_detail = "STRIPE_WEBHOOK_SECRET is not set: the event cannot be verified. Retry later."
