"""Serializers of the webhooks API, and the event payloads as OpenAPI components.

The payload serializers (``*EventSerializer``) are never used to build a payload (the
emitting apps use their own API serializers, ``orders.events`` and ``catalog.events``);
they describe it, so the schema documents every event exactly as it is sent.
"""

from drf_spectacular.utils import PolymorphicProxySerializer, extend_schema_field
from rest_framework import serializers

from catalog.serializers import ProductSerializer
from nexus.events import EVENT_TYPES, EVENT_VERSION
from orders.choices import OrderStatus, PaymentStatus
from orders.serializers import OrderSerializer
from webhooks.models import DeliveryStatus, WebhookDelivery, WebhookEndpoint
from webhooks.services import event_envelope

# --------------------------------------------------------------------------- endpoints


class WebhookEndpointSerializer(serializers.ModelSerializer):
    events = serializers.ListField(child=serializers.ChoiceField(EVENT_TYPES))

    class Meta:
        model = WebhookEndpoint
        fields = [
            "id",
            "url",
            "description",
            "events",
            "is_active",
            "failure_count",
            "last_delivery_at",
            "deactivated_at",
            "deactivated_reason",
            "created_at",
            "updated_at",
        ]
        read_only_fields = fields


class WebhookEndpointCreatedSerializer(WebhookEndpointSerializer):
    secret = serializers.CharField(
        read_only=True,
        help_text="The signing secret. Shown only in this response: store it now.",
    )

    class Meta(WebhookEndpointSerializer.Meta):
        fields = [*WebhookEndpointSerializer.Meta.fields, "secret"]
        read_only_fields = fields


class WebhookEndpointWriteSerializer(serializers.Serializer):
    url = serializers.URLField(max_length=2000)
    events = serializers.ListField(
        child=serializers.ChoiceField(EVENT_TYPES), allow_empty=False, max_length=len(EVENT_TYPES)
    )
    description = serializers.CharField(max_length=200, required=False, allow_blank=True)
    is_active = serializers.BooleanField(required=False, default=True)


# --------------------------------------------------------------------------- payloads


class _Envelope(serializers.Serializer):
    id = serializers.UUIDField(help_text="Event id (also the Nexus-Event-Id header): dedupe on it.")
    version = serializers.IntegerField(
        help_text=f"Payload version, currently {EVENT_VERSION}; bumped on incompatible changes."
    )
    created_at = serializers.DateTimeField()


def _type_field(event_type: str):
    return serializers.ChoiceField(choices=[event_type], help_text=f"Always `{event_type}`.")


class WebhookCustomerSerializer(serializers.Serializer):
    id = serializers.IntegerField(
        allow_null=True, help_text="The user's id; null for a guest order."
    )
    email = serializers.EmailField(
        help_text="The account's email, or the guest's for a guest order."
    )


class OrderEventDataSerializer(serializers.Serializer):
    order = OrderSerializer(help_text="The order as the API shows it (allowed_actions empty).")
    customer = WebhookCustomerSerializer()


class OrderStatusEventDataSerializer(OrderEventDataSerializer):
    previous_status = serializers.ChoiceField(OrderStatus.choices)


class OrderPaymentEventDataSerializer(OrderEventDataSerializer):
    previous_payment_status = serializers.ChoiceField(PaymentStatus.choices)


class OrderRefundEventDataSerializer(OrderPaymentEventDataSerializer):
    refund_amount = serializers.DecimalField(
        max_digits=12,
        decimal_places=2,
        required=False,
        help_text="What this refund gave back (absent when staff mark the whole order "
        "refunded by hand). `order.amount_refunded` is the total so far; `payment_status` "
        "is `partially_refunded` or `refunded`.",
    )


class ProductEventDataSerializer(serializers.Serializer):
    product = ProductSerializer(help_text="The product as the API shows it.")


class StockLowProductSerializer(serializers.Serializer):
    id = serializers.IntegerField()
    sku = serializers.CharField()
    name = serializers.CharField()
    slug = serializers.CharField()
    stock_quantity = serializers.IntegerField()


class StockLowEventDataSerializer(serializers.Serializer):
    product = StockLowProductSerializer()
    threshold = serializers.IntegerField(help_text="NEXUS_STOCK_LOW_THRESHOLD at the time.")


_DATA = {
    "order.created": OrderEventDataSerializer,
    "order.paid": OrderPaymentEventDataSerializer,
    "order.status_changed": OrderStatusEventDataSerializer,
    "order.cancelled": OrderStatusEventDataSerializer,
    "order.refunded": OrderRefundEventDataSerializer,
    "product.created": ProductEventDataSerializer,
    "product.updated": ProductEventDataSerializer,
    "product.deleted": ProductEventDataSerializer,
    "stock.low": StockLowEventDataSerializer,
}


def _event_serializer(event_type: str) -> type[serializers.Serializer]:
    name = "".join(part.title() for part in event_type.replace(".", "_").split("_"))
    return type(
        f"{name}EventSerializer",
        (_Envelope,),
        {
            "type": _type_field(event_type),
            "data": _DATA[event_type](),
            "__doc__": f"Webhook payload of `{event_type}` (version {EVENT_VERSION}).",
            "__module__": __name__,
        },
    )


EVENT_SERIALIZERS = {event_type: _event_serializer(event_type) for event_type in EVENT_TYPES}

WebhookEventPayload = PolymorphicProxySerializer(
    component_name="WebhookEventPayload",
    serializers=EVENT_SERIALIZERS,
    resource_type_field_name="type",
)


# --------------------------------------------------------------------------- deliveries


class WebhookDeliverySerializer(serializers.ModelSerializer):
    event = serializers.CharField(source="event.type", help_text="The event type.")
    status = serializers.ChoiceField(DeliveryStatus.choices)

    class Meta:
        model = WebhookDelivery
        fields = [
            "id",
            "event_id",
            "event",
            "status",
            "attempts",
            "response_status",
            "duration_ms",
            "response_body",
            "last_error",
            "created_at",
            "last_attempt_at",
            "delivered_at",
        ]
        read_only_fields = fields


class WebhookDeliveryDetailSerializer(WebhookDeliverySerializer):
    payload = serializers.SerializerMethodField(help_text="The event exactly as it is POSTed.")

    class Meta(WebhookDeliverySerializer.Meta):
        fields = [*WebhookDeliverySerializer.Meta.fields, "payload"]
        read_only_fields = fields

    @extend_schema_field(WebhookEventPayload)
    def get_payload(self, delivery: WebhookDelivery) -> dict:
        return event_envelope(delivery.event)
