"""Input and output serializers of the cart API. Output serializers read lines annotated
by ``cart.selectors`` (``line_total``, ``product_image``): they never query."""

from django.conf import settings
from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers

from cart.selectors import cart_max_quantity
from catalog.models import ProductImage

_MAX_ID = 2**63 - 1


class CartProductSerializer(serializers.Serializer):
    """The product of a cart line, at its current price (read from an annotated line)."""

    id = serializers.IntegerField(source="product.id")
    name = serializers.CharField(source="product.name")
    slug = serializers.SlugField(source="product.slug")
    price = serializers.DecimalField(max_digits=12, decimal_places=2, source="product.price")
    image = serializers.SerializerMethodField(help_text="URL of the primary image, or null.")
    in_stock = serializers.BooleanField(source="product.in_stock")

    @extend_schema_field({"type": "string", "format": "uri", "nullable": True})
    def get_image(self, item) -> str | None:
        name = getattr(item, "product_image", None)
        if not name:
            return None
        url = ProductImage._meta.get_field("image").storage.url(name)
        request = self.context.get("request")
        return request.build_absolute_uri(url) if request is not None else url


class CartItemSerializer(serializers.Serializer):
    id = serializers.IntegerField()
    product = CartProductSerializer(source="*")
    quantity = serializers.IntegerField()
    unit_price = serializers.DecimalField(
        max_digits=12,
        decimal_places=2,
        source="product.price",
        help_text="The product's current price.",
    )
    line_total = serializers.DecimalField(
        max_digits=14, decimal_places=2, help_text="quantity x unit_price."
    )


class CartWarningSerializer(serializers.Serializer):
    # A plain string (not an enum component, whose name `CodeEnum` other apps could take).
    code = serializers.CharField(
        help_text="One of: `product_inactive` (no longer sold), `out_of_stock` (none left), "
        "`insufficient_stock` (fewer left than the line holds), `price_changed` (the price "
        "differs from the price when added), `quantity_capped` (a merge kept less than asked)."
    )
    item_id = serializers.IntegerField(
        allow_null=True, help_text="The line concerned; null for a merged line that was dropped."
    )
    message = serializers.CharField()


class CartSerializer(serializers.Serializer):
    id = serializers.IntegerField(
        allow_null=True, help_text="Null for a guest who has no cart yet."
    )
    cart_token = serializers.CharField(
        allow_null=True,
        help_text="A guest cart's token (send it back as X-Cart-Token); null for a "
        "signed-in user's cart and for a guest without a cart.",
    )
    items = CartItemSerializer(many=True)
    total_items = serializers.IntegerField(help_text="Units in the cart (sum of quantities).")
    subtotal = serializers.DecimalField(max_digits=14, decimal_places=2)
    currency = serializers.CharField(default=settings.NEXUS_CURRENCY)
    warnings = CartWarningSerializer(many=True)
    updated_at = serializers.DateTimeField(allow_null=True)


def _validate_max(value: int) -> int:
    maximum = cart_max_quantity()
    if value > maximum:
        raise serializers.ValidationError(
            f"Ensure this value is less than or equal to {maximum}.", code="max_value"
        )
    return value


class CartItemAddSerializer(serializers.Serializer):
    product = serializers.IntegerField(min_value=1, max_value=_MAX_ID, help_text="Product id.")
    quantity = serializers.IntegerField(
        min_value=1,
        max_value=_MAX_ID,
        default=1,
        help_text="Units to add (default 1); the line may hold at most "
        "NEXUS_CART_MAX_QUANTITY (1000 by default).",
    )

    def validate_quantity(self, value: int) -> int:
        return _validate_max(value)


class CartItemUpdateSerializer(serializers.Serializer):
    quantity = serializers.IntegerField(
        min_value=0,
        max_value=_MAX_ID,
        help_text="The line's new quantity; 0 removes the line. At most "
        "NEXUS_CART_MAX_QUANTITY (1000 by default).",
    )

    def validate_quantity(self, value: int) -> int:
        return _validate_max(value)
