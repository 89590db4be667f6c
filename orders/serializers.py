"""Input and output serializers of the orders app."""

from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers

from orders.choices import OrderAction, OrderEventKind, PaymentMethod, PaymentStatus
from orders.models import Order, OrderEvent, OrderItem
from orders.openapi import OrderStatusField
from orders.services import order_allowed_actions
from users.countries import COUNTRY_CODES
from users.models import phone_validator


class OrderAddressSerializer(serializers.Serializer):
    """An address as given at checkout and as stored (a snapshot) on the order."""

    full_name = serializers.CharField(max_length=150)
    street = serializers.CharField(max_length=255)
    street2 = serializers.CharField(max_length=255, required=False, allow_blank=True, default="")
    city = serializers.CharField(max_length=100)
    state = serializers.CharField(max_length=100, required=False, allow_blank=True, default="")
    postal_code = serializers.CharField(max_length=20)
    country = serializers.CharField(
        min_length=2, max_length=2, help_text="ISO 3166-1 alpha-2, for example `US`."
    )
    phone_number = serializers.CharField(
        max_length=20,
        required=False,
        allow_blank=True,
        default="",
        validators=[phone_validator],
    )

    def validate_country(self, value: str) -> str:
        code = value.upper()
        if code not in COUNTRY_CODES:
            raise serializers.ValidationError(
                "Enter an ISO 3166-1 alpha-2 country code, for example 'US'.", code="invalid"
            )
        return code


class OrderCreateSerializer(serializers.Serializer):
    shipping_address = OrderAddressSerializer(
        required=False,
        help_text="The address to ship to. Give this or `shipping_address_id`; with neither, "
        "the caller's default shipping address is used (400 if there is none).",
    )
    shipping_address_id = serializers.IntegerField(
        required=False,
        min_value=1,
        help_text="An id from the caller's address book (`/users/addresses/`). Any other id, "
        "including another user's, is a 400 `validation_error` with code `does_not_exist`.",
    )
    billing_address = OrderAddressSerializer(
        required=False, help_text="Defaults to the shipping address."
    )
    billing_address_id = serializers.IntegerField(
        required=False, min_value=1, help_text="An id from the caller's address book."
    )
    payment_method = serializers.ChoiceField(choices=PaymentMethod.choices)
    note = serializers.CharField(
        max_length=1000, required=False, allow_blank=True, default="", help_text="For the shop."
    )

    def validate(self, attrs):
        for kind in ("shipping", "billing"):
            if f"{kind}_address" in attrs and f"{kind}_address_id" in attrs:
                raise serializers.ValidationError(
                    {
                        f"{kind}_address_id": [
                            f"Give {kind}_address or {kind}_address_id, not both."
                        ]
                    },
                    code="conflict",
                )
        return attrs


class OrderItemSerializer(serializers.ModelSerializer):
    class Meta:
        model = OrderItem
        fields = ["id", "product", "product_name", "sku", "unit_price", "quantity", "line_total"]
        read_only_fields = fields


ALLOWED_ACTIONS_HELP = (
    "What the caller may do next. Vocabulary: "
    + "; ".join(f"`{action.value}`: {action.label}" for action in OrderAction)
    + ". Customers only ever see `cancel`; `cancel` is POST `orders/{id}/cancel/`, the status "
    "actions are POST `orders/{id}/status/`, the payment ones POST `orders/{id}/payment/`."
)


class OrderSerializer(serializers.ModelSerializer):
    items = OrderItemSerializer(many=True, read_only=True)
    shipping_address = OrderAddressSerializer(read_only=True)
    billing_address = OrderAddressSerializer(read_only=True)
    status = OrderStatusField(read_only=True)
    allowed_actions = serializers.SerializerMethodField(help_text=ALLOWED_ACTIONS_HELP)

    class Meta:
        model = Order
        fields = [
            "id",
            "number",
            "status",
            "payment_status",
            "payment_method",
            "items",
            "subtotal",
            "shipping_cost",
            "total",
            "currency",
            "shipping_address",
            "billing_address",
            "note",
            "tracking_number",
            "allowed_actions",
            "created_at",
            "updated_at",
        ]
        read_only_fields = fields

    @extend_schema_field(serializers.ListField(child=serializers.ChoiceField(OrderAction.choices)))
    def get_allowed_actions(self, order: Order) -> list[str]:
        request = self.context.get("request")
        return order_allowed_actions(order=order, user=getattr(request, "user", None))


class OrderCancelSerializer(serializers.Serializer):
    note = serializers.CharField(max_length=1000, required=False, allow_blank=True, default="")


class OrderStatusChangeSerializer(serializers.Serializer):
    status = OrderStatusField(
        help_text="Allowed moves: pending -> processing -> shipped -> delivered; "
        "pending|processing -> cancelled (stock goes back). Anything else: 409 "
        "`invalid_transition`.",
    )
    note = serializers.CharField(max_length=1000, required=False, allow_blank=True, default="")
    tracking_number = serializers.CharField(
        max_length=100, required=False, help_text="Stored with the change (usually `shipped`)."
    )


class OrderPaymentChangeSerializer(serializers.Serializer):
    payment_status = serializers.ChoiceField(
        choices=[(s.value, s.label) for s in PaymentStatus if s != PaymentStatus.UNPAID],
        help_text="Allowed: unpaid -> paid|failed, failed -> paid, paid -> refunded; a "
        "cancelled order cannot be paid. Anything else: 409 `invalid_transition`.",
    )
    reference = serializers.CharField(
        max_length=100,
        required=False,
        allow_blank=True,
        default="",
        help_text="The payment provider's reference.",
    )
    note = serializers.CharField(max_length=1000, required=False, allow_blank=True, default="")


class OrderEventSerializer(serializers.ModelSerializer):
    kind = serializers.ChoiceField(choices=OrderEventKind.choices, read_only=True)
    actor = serializers.SerializerMethodField(help_text="Display name of who did it; null: system.")
    actor_role = serializers.SerializerMethodField(
        help_text="`customer`, `staff` or `admin`; null: system or a deleted account."
    )

    class Meta:
        model = OrderEvent
        fields = [
            "id",
            "kind",
            "from_value",
            "to_value",
            "note",
            "actor",
            "actor_role",
            "created_at",
        ]
        read_only_fields = fields

    def get_actor(self, event: OrderEvent) -> str | None:
        return event.actor.display_name if event.actor else None

    def get_actor_role(self, event: OrderEvent) -> str | None:
        return event.actor.role if event.actor else None
