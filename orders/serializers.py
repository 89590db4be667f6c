"""Input and output serializers of the orders app."""

import decimal

from django.conf import settings
from django.utils import timezone
from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers

from nexus.representation import decimal_context, drf_datetime, drf_decimal
from orders.choices import (
    OrderAction,
    OrderEventKind,
    PaymentMethod,
    PaymentStatus,
    order_allowed_actions,
)
from orders.errors import PaymentMethodUnavailable
from orders.models import MONEY, Order, OrderEvent, OrderItem
from orders.openapi import OrderStatusField
from users.countries import validate_country_code
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
        return validate_country_code(value)


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
    payment_method = serializers.ChoiceField(
        choices=PaymentMethod.choices,
        help_text="`card` is paid online (POST `orders/{id}/payments/`); it is refused with "
        "400 `payment_method_unavailable` while card payments are off (no Stripe key). "
        "Staff record the other methods by hand.",
    )
    note = serializers.CharField(
        max_length=1000, required=False, allow_blank=True, default="", help_text="For the shop."
    )
    email = serializers.EmailField(
        required=False,
        help_text="Guest checkout (no Bearer token): required, where the confirmation and "
        "the order's link go. Ignored for a signed-in caller (the account's email is used).",
    )
    shipping_method = serializers.CharField(
        max_length=50,
        required=False,
        allow_blank=True,
        help_text="A shipping method's `code` (`GET shipping-methods/?country=..`). Omitted: "
        "the cheapest method serving the destination. 400 `shipping_unavailable` on "
        "`shipping_method` when none serves it or the one named does not. With no method "
        "configured at all, the flat rate (`standard`) applies.",
    )
    voucher_code = serializers.CharField(
        max_length=64,
        required=False,
        allow_blank=True,
        help_text="Case-insensitive. Refusals are 400 on `voucher_code` with codes "
        "`voucher_invalid` (unknown, inactive, or applies to nothing in the cart), "
        "`voucher_not_started`, `voucher_expired`, `voucher_min_subtotal`, "
        "`voucher_used_up`, `voucher_already_used`.",
    )

    def validate_payment_method(self, value: str) -> str:
        if value == PaymentMethod.CARD and not settings.STRIPE_SECRET_KEY:
            raise PaymentMethodUnavailable()
        return value

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


class CheckoutPreviewSerializer(OrderCreateSerializer):
    """The body of POST orders/, with ``payment_method`` optional."""

    payment_method = serializers.ChoiceField(choices=PaymentMethod.choices, required=False)


class OrderItemSerializer(serializers.ModelSerializer):
    class Meta:
        model = OrderItem
        fields = [
            "id",
            "product",
            "variant",
            "product_name",
            "variant_name",
            "sku",
            "unit_price",
            "quantity",
            "line_total",
            "discount_amount",
            "tax_rate",
            "tax_amount",
        ]
        read_only_fields = fields
        extra_kwargs = {
            "line_total": {"help_text": "unit_price x quantity, before the discount."},
            "discount_amount": {"help_text": "This line's share of the voucher's discount."},
            "tax_rate": {"help_text": "Percent, e.g. `19.00`."},
            "tax_amount": {
                "help_text": "Tax of `line_total - discount_amount`, half-up to the cent "
                "(added to it, or contained in it when prices include tax)."
            },
            "variant_name": {
                "help_text": 'The variant\'s name when ordered ("Red / M"; "" for none).'
            },
            "sku": {"help_text": "The variant's SKU when ordered."},
        }


ALLOWED_ACTIONS_HELP = (
    "What the caller may do next. Vocabulary: "
    + "; ".join(f"`{action.value}`: {action.label}" for action in OrderAction)
    + ". Customers only ever see `cancel`; `cancel` is POST `orders/{id}/cancel/`, the status "
    "actions are POST `orders/{id}/status/`, the payment ones POST `orders/{id}/payment/`."
)


class ShippingMethodRefSerializer(serializers.Serializer):
    code = serializers.CharField()
    name = serializers.CharField()


class OrderPaymentSerializer(serializers.Serializer):
    """One payment attempt of the order (rows of the payments app, read through the
    ``payments`` reverse relation)."""

    id = serializers.IntegerField(read_only=True)
    provider = serializers.ChoiceField(choices=["manual", "stripe"], read_only=True)
    status = serializers.ChoiceField(
        choices=["pending", "succeeded", "failed", "cancelled", "mismatch"],
        read_only=True,
        help_text="`mismatch`: the provider reported an amount or currency that is not the "
        "order's; the order was not marked paid and staff were told in its events.",
    )
    amount = serializers.DecimalField(max_digits=12, decimal_places=2, read_only=True)
    created_at = serializers.DateTimeField(read_only=True)


class OrderSerializer(serializers.ModelSerializer):
    items = OrderItemSerializer(many=True, read_only=True)
    payments = OrderPaymentSerializer(many=True, read_only=True)
    shipping_address = OrderAddressSerializer(read_only=True)
    billing_address = OrderAddressSerializer(read_only=True)
    status = OrderStatusField(read_only=True)
    allowed_actions = serializers.SerializerMethodField(help_text=ALLOWED_ACTIONS_HELP)
    shipping_method = serializers.SerializerMethodField(
        help_text="The method chosen at checkout (a snapshot); null for orders placed "
        "before shipping methods existed."
    )
    voucher_code = serializers.SerializerMethodField(help_text="The voucher used, or null.")
    is_guest = serializers.BooleanField(
        read_only=True, help_text="Placed without an account (read with its guest token)."
    )

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
            "discount_total",
            "shipping_method",
            "shipping_cost",
            "shipping_tax_amount",
            "tax_total",
            "total",
            "prices_include_tax",
            "currency",
            "voucher_code",
            "email",
            "is_guest",
            "payments",
            "amount_paid",
            "amount_refunded",
            "shipping_address",
            "billing_address",
            "note",
            "tracking_number",
            "allowed_actions",
            "created_at",
            "updated_at",
        ]
        read_only_fields = fields
        extra_kwargs = {
            "total": {
                "help_text": "subtotal - discount_total + shipping_cost + tax_total; when "
                "`prices_include_tax`, subtotal - discount_total + shipping_cost (the tax "
                "is inside those amounts)."
            },
            "discount_total": {"help_text": "The sum of the lines' `discount_amount`."},
            "tax_total": {"help_text": "The lines' `tax_amount` plus `shipping_tax_amount`."},
            "shipping_tax_amount": {"help_text": "Tax on shipping (rates that apply to it)."},
            "prices_include_tax": {
                "help_text": "Whether the amounts include tax (NEXUS_PRICES_INCLUDE_TAX when "
                "the order was placed)."
            },
            "email": {"help_text": "Where the order's emails go."},
        }

    @extend_schema_field(ShippingMethodRefSerializer(allow_null=True))
    def get_shipping_method(self, order: Order) -> dict | None:
        if not order.shipping_method_code:
            return None
        return {"code": order.shipping_method_code, "name": order.shipping_method_name}

    def get_voucher_code(self, order: Order) -> str | None:
        return order.voucher_code or None

    @extend_schema_field(serializers.ListField(child=serializers.ChoiceField(OrderAction.choices)))
    def get_allowed_actions(self, order: Order) -> list[str]:
        request = self.context.get("request")
        return order_allowed_actions(
            order=order,
            user=getattr(request, "user", None),
            guest=bool(self.context.get("guest")),
        )


class GuestOrderCreatedSerializer(OrderSerializer):
    """The 201 of a guest checkout: the order plus its secret, shown this once."""

    guest_token = serializers.SerializerMethodField(
        help_text="The secret of this guest order (shown once; only its hash is stored): "
        "`GET orders/guest/{guest_token}/`, `POST orders/guest/{guest_token}/cancel/`. "
        "Also in the confirmation email's link."
    )

    class Meta(OrderSerializer.Meta):
        fields = [*OrderSerializer.Meta.fields, "guest_token"]
        read_only_fields = fields

    def get_guest_token(self, order: Order) -> str | None:
        return self.context.get("guest_token")


class PreviewLineSerializer(serializers.Serializer):
    variant = serializers.IntegerField(source="line.variant_id")
    product = serializers.IntegerField(source="line.product_id")
    unit_price = serializers.DecimalField(max_digits=12, decimal_places=2, source="line.unit_price")
    quantity = serializers.IntegerField(source="line.quantity")
    line_total = serializers.DecimalField(max_digits=12, decimal_places=2)
    discount_amount = serializers.DecimalField(max_digits=12, decimal_places=2)
    tax_rate = serializers.DecimalField(max_digits=5, decimal_places=2)
    tax_amount = serializers.DecimalField(max_digits=12, decimal_places=2)


class PreviewWarningSerializer(serializers.Serializer):
    code = serializers.CharField(
        help_text="Cart warning codes: `product_inactive`, `out_of_stock`, "
        "`insufficient_stock` (placing now would be refused), `price_changed` (priced at "
        "the current price), `quantity_capped`."
    )
    item_id = serializers.IntegerField(allow_null=True)
    message = serializers.CharField()


class CheckoutPreviewResponseSerializer(serializers.Serializer):
    """What placing the order now would charge (orders/pricing.py); nothing is written."""

    items = PreviewLineSerializer(many=True, source="lines")
    subtotal = serializers.DecimalField(max_digits=12, decimal_places=2)
    discount_total = serializers.DecimalField(max_digits=12, decimal_places=2)
    shipping_method = ShippingMethodRefSerializer()
    shipping_cost = serializers.DecimalField(max_digits=12, decimal_places=2)
    shipping_tax_amount = serializers.DecimalField(max_digits=12, decimal_places=2)
    tax_total = serializers.DecimalField(max_digits=12, decimal_places=2)
    total = serializers.DecimalField(max_digits=12, decimal_places=2)
    prices_include_tax = serializers.BooleanField()
    currency = serializers.CharField()
    voucher_code = serializers.CharField(allow_null=True)
    warnings = PreviewWarningSerializer(many=True)


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
        choices=[
            (s.value, s.label)
            for s in PaymentStatus
            if s not in (PaymentStatus.UNPAID, PaymentStatus.PARTIALLY_REFUNDED)
        ],
        help_text="Allowed: unpaid -> paid|failed, failed -> paid, paid|partially_refunded -> "
        "refunded; a cancelled order cannot be paid. Anything else: 409 `invalid_transition`. "
        "This records what staff did by hand (bank transfer, cash on delivery): money is not "
        "moved. Refunds that give money back are POST `orders/{id}/refunds/`.",
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


# --------------------------------------------------------------------------- checkout answer

_MONEY_CONTEXT = decimal_context(MONEY["max_digits"])
_RATE_CONTEXT = decimal_context(OrderItem._meta.get_field("tax_rate").max_digits)
# OrderAddressSerializer's optional fields (default ""); the others are required.
_ADDRESS_OPTIONAL = ("street2", "state", "phone_number")


def _money(value: decimal.Decimal, context: decimal.Context = _MONEY_CONTEXT) -> str:
    """DRF's DecimalField output (two places, ``COERCE_DECIMAL_TO_STRING``)."""
    return drf_decimal(value, context)


def _address(snapshot: dict | None) -> dict | None:
    if snapshot is None:
        return None
    address = {}
    for name in OrderAddressSerializer._declared_fields:
        value = snapshot.get(name, "") if name in _ADDRESS_OPTIONAL else snapshot[name]
        address[name] = str(value)
    return address


def order_placed_data(order: Order, *, user, guest: bool = False, guest_token=None) -> dict:
    """``OrderSerializer(order).data`` (``GuestOrderCreatedSerializer`` with ``guest``)
    for an order fresh from ``services.order_place``, without DRF fields: the same dict,
    key for key and value for value, from the instance and its lines as inserted
    (``order.placed_items``) and no payments (none can exist yet).

    The checkout answers with it (issue 18): building the two serializers' fields per
    request cost more than half a millisecond of every checkout.
    ``orders/tests/test_checkout_response.py`` holds it byte-identical to the serializers.
    """
    zone = timezone.get_current_timezone()
    data = {
        "id": order.pk,
        "number": str(order.number),
        "status": str(order.status),
        "payment_status": str(order.payment_status),
        "payment_method": str(order.payment_method),
        "items": [
            {
                "id": item.pk,
                "product": item.product_id,
                "variant": item.variant_id,
                "product_name": str(item.product_name),
                "variant_name": str(item.variant_name),
                "sku": str(item.sku),
                "unit_price": _money(item.unit_price),
                "quantity": int(item.quantity),
                "line_total": _money(item.line_total),
                "discount_amount": _money(item.discount_amount),
                "tax_rate": _money(item.tax_rate, _RATE_CONTEXT),
                "tax_amount": _money(item.tax_amount),
            }
            for item in sorted(order.placed_items, key=lambda item: item.pk)
        ],
        "subtotal": _money(order.subtotal),
        "discount_total": _money(order.discount_total),
        "shipping_method": (
            {"code": order.shipping_method_code, "name": order.shipping_method_name}
            if order.shipping_method_code
            else None
        ),
        "shipping_cost": _money(order.shipping_cost),
        "shipping_tax_amount": _money(order.shipping_tax_amount),
        "tax_total": _money(order.tax_total),
        "total": _money(order.total),
        "prices_include_tax": bool(order.prices_include_tax),
        "currency": str(order.currency),
        "voucher_code": order.voucher_code or None,
        "email": str(order.email),
        "is_guest": bool(order.is_guest),
        "payments": [],
        "amount_paid": _money(order.amount_paid),
        "amount_refunded": _money(order.amount_refunded),
        "shipping_address": _address(order.shipping_address),
        "billing_address": _address(order.billing_address),
        "note": str(order.note),
        "tracking_number": str(order.tracking_number),
        "allowed_actions": order_allowed_actions(order=order, user=user, guest=guest),
        "created_at": drf_datetime(order.created_at, zone),
        "updated_at": drf_datetime(order.updated_at, zone),
    }
    if guest:
        data["guest_token"] = guest_token
    return data
