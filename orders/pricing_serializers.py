"""Serializers of the pricing rules: shipping methods, tax rates, vouchers."""

from rest_framework import serializers

from catalog.models import Category, Product
from orders.choices import VoucherKind
from orders.models import ShippingMethod, TaxRate, Voucher
from users.countries import validate_country_code


class CountryCodeField(serializers.CharField):
    def __init__(self, **kwargs):
        super().__init__(min_length=2, max_length=2, **kwargs)

    def to_internal_value(self, data):
        return validate_country_code(super().to_internal_value(data))


class ShippingMethodSerializer(serializers.ModelSerializer):
    countries = serializers.ListField(
        child=CountryCodeField(),
        required=False,
        max_length=300,
        help_text="ISO 3166-1 alpha-2 codes this method ships to; empty: everywhere.",
    )

    class Meta:
        model = ShippingMethod
        fields = [
            "id",
            "code",
            "name",
            "price",
            "free_above",
            "countries",
            "estimated_days_min",
            "estimated_days_max",
            "is_active",
        ]
        read_only_fields = ["id"]
        extra_kwargs = {
            "code": {"help_text": "Stable identifier, chosen at checkout (`shipping_method`)."},
            "price": {"min_value": 0},
            "free_above": {
                "min_value": 0,
                "help_text": "Free when the goods (subtotal - discount_total) reach this "
                "amount; null: never free.",
            },
        }
        # The unique code is checked by the service (400 `unique` on `code`).
        validators = []

    def get_fields(self):
        fields = super().get_fields()
        fields["code"].validators = [v for v in fields["code"].validators if not _is_unique(v)]
        return fields

    def validate(self, attrs):
        low = attrs.get("estimated_days_min", getattr(self.instance, "estimated_days_min", None))
        high = attrs.get("estimated_days_max", getattr(self.instance, "estimated_days_max", None))
        if low is not None and high is not None and low > high:
            raise serializers.ValidationError(
                {"estimated_days_max": ["Must not be below estimated_days_min."]}, code="invalid"
            )
        return attrs


def _is_unique(validator) -> bool:
    return type(validator).__name__ == "UniqueValidator"


class TaxRateSerializer(serializers.ModelSerializer):
    country = CountryCodeField()

    class Meta:
        model = TaxRate
        fields = ["id", "country", "region", "rate", "applies_to_shipping", "name"]
        read_only_fields = ["id"]
        extra_kwargs = {
            "region": {
                "help_text": 'The address\'s `state` this rate is for (case-insensitive); "" '
                "= the whole country. The most specific rate applies."
            },
            "rate": {"min_value": 0, "max_value": 100, "help_text": 'Percent, e.g. "19.00".'},
            "applies_to_shipping": {"help_text": "Tax the shipping cost at this rate too."},
        }
        validators = []  # one rate per country and region: the service answers 400


class VoucherSerializer(serializers.ModelSerializer):
    categories = serializers.PrimaryKeyRelatedField(
        many=True,
        queryset=Category.objects.all(),
        required=False,
        help_text="Category ids (subcategories included); with `products` empty both: everything.",
    )
    products = serializers.PrimaryKeyRelatedField(
        many=True, queryset=Product.objects.all(), required=False, help_text="Product ids."
    )

    class Meta:
        model = Voucher
        fields = [
            "id",
            "code",
            "kind",
            "value",
            "min_subtotal",
            "starts_at",
            "ends_at",
            "usage_limit",
            "used_count",
            "once_per_customer",
            "is_active",
            "categories",
            "products",
        ]
        read_only_fields = ["id", "used_count"]
        extra_kwargs = {
            "code": {"help_text": "Case-insensitive, unique (stored upper-case)."},
            "value": {
                "min_value": 0,
                "help_text": "percentage: percent off (0-100]; fixed: amount off; "
                "free_shipping: ignored.",
            },
            "min_subtotal": {
                "min_value": 0,
                "help_text": "The eligible lines' subtotal must reach this.",
            },
            "usage_limit": {"help_text": "Total uses; null: unlimited."},
            "once_per_customer": {
                "help_text": "One use per account and per normalised email (guests too)."
            },
        }
        validators = []

    def get_fields(self):
        fields = super().get_fields()
        fields["code"].validators = [v for v in fields["code"].validators if not _is_unique(v)]
        return fields

    def validate(self, attrs):
        def current(name):
            return attrs.get(name, getattr(self.instance, name, None))

        kind, value = current("kind"), current("value")
        if value is None and kind in (VoucherKind.PERCENTAGE, VoucherKind.FIXED):
            raise serializers.ValidationError(
                {"value": ["Required for this kind."]}, code="required"
            )
        if kind == VoucherKind.PERCENTAGE and value is not None and not 0 < value <= 100:
            raise serializers.ValidationError(
                {"value": ["A percentage is above 0 and at most 100."]}, code="invalid"
            )
        if kind == VoucherKind.FIXED and value is not None and value <= 0:
            raise serializers.ValidationError(
                {"value": ["A fixed discount is above 0."]}, code="invalid"
            )
        starts, ends = current("starts_at"), current("ends_at")
        if starts and ends and ends <= starts:
            raise serializers.ValidationError(
                {"ends_at": ["Must be after starts_at."]}, code="invalid"
            )
        return attrs
