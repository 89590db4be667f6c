"""Reads of the webhooks app, shaped for the API and the admin."""

from django.db.models import QuerySet

from webhooks.models import WebhookDelivery, WebhookEndpoint


def endpoints_list() -> QuerySet[WebhookEndpoint]:
    return WebhookEndpoint.objects.order_by("id")


def deliveries_for_endpoint(*, endpoint: WebhookEndpoint) -> QuerySet[WebhookDelivery]:
    """The endpoint's delivery log, newest first, with each delivery's event."""
    return WebhookDelivery.objects.filter(endpoint=endpoint).select_related("event").order_by("-id")
