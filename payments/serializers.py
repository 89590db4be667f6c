"""Input and output serializers of the payments app."""

from decimal import Decimal

from rest_framework import serializers

from payments.models import Payment, Refund


class PaymentSerializer(serializers.ModelSerializer):
    client_secret = serializers.CharField(
        read_only=True,
        help_text="For Stripe.js (`stripe.confirmCardPayment(client_secret, ...)`); only the "
        "order's owner ever receives it. Empty for finished payments.",
    )

    class Meta:
        model = Payment
        fields = ["id", "provider", "status", "amount", "currency", "client_secret"]
        read_only_fields = fields

    def to_representation(self, payment: Payment):
        data = super().to_representation(payment)
        if payment.status != "pending":
            data["client_secret"] = ""
        return data


class RefundCreateSerializer(serializers.Serializer):
    amount = serializers.DecimalField(
        max_digits=12,
        decimal_places=2,
        min_value=Decimal("0.01"),
        required=False,
        help_text="Default: everything that remains refundable.",
    )
    reason = serializers.CharField(max_length=500, required=False, allow_blank=True, default="")


class RefundSerializer(serializers.ModelSerializer):
    class Meta:
        model = Refund
        fields = ["id", "amount", "status", "provider", "reason", "created_at"]
        read_only_fields = fields


class WebhookAckSerializer(serializers.Serializer):
    received = serializers.BooleanField()
    event_id = serializers.CharField()
    outcome = serializers.ChoiceField(
        choices=["handled", "ignored", "duplicate"],
        help_text="`ignored`: an event type Nexus does not handle, or an object that is not "
        "one of its payments or refunds; `duplicate`: this event id was handled before.",
    )
