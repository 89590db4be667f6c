"""Refusals of the webhooks app, each with a stable code."""

from rest_framework import status

from nexus.exceptions import DomainError


class WebhookUrlRefused(DomainError):
    """400 with the URL check's own code: ``webhook_url_invalid``, ``webhook_url_forbidden``
    (loopback, private, link-local, metadata) or ``webhook_url_unresolvable``."""

    status_code = status.HTTP_400_BAD_REQUEST
    title = "Bad Request"
    code = "webhook_url_forbidden"

    def __init__(self, code: str, message: str):
        super().__init__(message, errors=[{"field": "url", "code": code, "message": message}])
        self.code = code


class DeliveryPending(DomainError):
    code = "delivery_pending"
    title = "Delivery pending"
    default_detail = "This delivery is still pending; it cannot be redelivered yet."


class EndpointInactive(DomainError):
    code = "webhook_inactive"
    title = "Webhook inactive"
    default_detail = "The webhook is inactive; activate it before redelivering."
