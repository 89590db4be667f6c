"""Input and output serializers of the cart API. Output serializers read lines annotated
by ``cart.selectors`` (``line_total``, ``product_image``): they never query."""

from django.conf import settings
from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers

from cart.selectors import cart_max_quantity
from catalog.models import ProductImage
from nexus.representation import decimal_context, drf_decimal

_MAX_ID = 2**63 - 1


class CartProductSerializer(serializers.Serializer):
    """The product of a cart line as the line sells it: ``price`` and ``in_stock`` are
    the line's variant's (read from an annotated line)."""

    id = serializers.IntegerField(source="variant.product.id")
    name = serializers.CharField(source="variant.product.name")
    slug = serializers.SlugField(source="variant.product.slug")
    price = serializers.DecimalField(
        max_digits=12,
        decimal_places=2,
        source="variant.price",
        help_text="The current price of the line's variant.",
    )
    image = serializers.SerializerMethodField(help_text="URL of the primary image, or null.")
    in_stock = serializers.BooleanField(
        source="variant.in_stock", help_text="Whether the line's variant is in stock."
    )

    @extend_schema_field({"type": "string", "format": "uri", "nullable": True})
    def get_image(self, item) -> str | None:
        name = getattr(item, "product_image", None)
        if not name:
            return None
        url = ProductImage._meta.get_field("image").storage.url(name)
        request = self.context.get("request")
        return request.build_absolute_uri(url) if request is not None else url


class CartVariantSerializer(serializers.Serializer):
    id = serializers.IntegerField()
    sku = serializers.CharField()
    name = serializers.CharField(help_text='"Red / M" ("" for a product without options).')
    options = serializers.SerializerMethodField(help_text='{"Color": "Red", "Size": "M"}.')

    @extend_schema_field(serializers.DictField(child=serializers.CharField()))
    def get_options(self, variant) -> dict[str, str]:
        return {value.option.name: value.value for value in variant.option_values.all()}


class CartLineSerializer(serializers.Serializer):
    """A line as listed in the cart: one variant of a product."""

    id = serializers.IntegerField()
    product = CartProductSerializer(source="*")
    variant = CartVariantSerializer()
    quantity = serializers.IntegerField()
    unit_price = serializers.DecimalField(
        max_digits=12,
        decimal_places=2,
        source="variant.price",
        help_text="The variant's current price.",
    )
    line_total = serializers.DecimalField(
        max_digits=30, decimal_places=2, help_text="quantity x unit_price."
    )


class CartItemSerializer(CartLineSerializer):
    """A line as returned by an add or change, with the guest cart's token."""

    cart_token = serializers.SerializerMethodField(
        help_text="The guest cart's token (also in the X-Cart-Token header): a guest's first "
        "add creates the cart, and later guest requests send this token. Null for a "
        "signed-in user's cart."
    )

    def get_cart_token(self, item) -> str | None:
        cart = self.context.get("cart")
        return cart.token if cart is not None and cart.is_guest else None


_PRICE_CONTEXT = decimal_context(CartLineSerializer._declared_fields["unit_price"].max_digits)
_PRODUCT_PRICE_CONTEXT = decimal_context(CartProductSerializer._declared_fields["price"].max_digits)
_LINE_TOTAL_CONTEXT = decimal_context(CartLineSerializer._declared_fields["line_total"].max_digits)


def cart_item_added_data(item, *, request, cart) -> dict:
    """``CartItemSerializer(item, context={"request": request, "cart": cart}).data`` for a
    line fresh from an add (shaped by ``cart.selectors.cart_item_shape_added``), without
    DRF fields: the same dict, key for key and value for value.

    The cart add answers with it (issue 18): building the three nested serializers'
    fields on every add cost more CPU than formatting their values.
    ``cart/tests/test_cart_add_response.py`` holds it equal to the serializer."""
    variant = item.variant
    product = variant.product
    price = drf_decimal(variant.price, _PRICE_CONTEXT)
    image = getattr(item, "product_image", None)
    if image:
        image = ProductImage._meta.get_field("image").storage.url(image)
        image = request.build_absolute_uri(image) if request is not None else image
    return {
        "id": int(item.id),
        "product": {
            "id": int(product.id),
            "name": str(product.name),
            "slug": str(product.slug),
            "price": drf_decimal(variant.price, _PRODUCT_PRICE_CONTEXT),
            "image": image or None,
            "in_stock": bool(variant.in_stock),
        },
        "variant": {
            "id": int(variant.id),
            "sku": str(variant.sku),
            "name": str(variant.name),
            "options": {value.option.name: value.value for value in variant.option_values.all()},
        },
        "quantity": int(item.quantity),
        "unit_price": price,
        "line_total": drf_decimal(item.line_total, _LINE_TOTAL_CONTEXT),
        "cart_token": cart.token if cart is not None and cart.is_guest else None,
    }


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
    items = CartLineSerializer(many=True)
    total_items = serializers.IntegerField(help_text="Units in the cart (sum of quantities).")
    # Wide as cart.selectors.MONEY: at current prices a cart may exceed what it accepted.
    subtotal = serializers.DecimalField(max_digits=30, decimal_places=2)
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
    variant = serializers.IntegerField(
        min_value=1, max_value=_MAX_ID, required=False, help_text="Variant id."
    )
    product = serializers.IntegerField(
        min_value=1,
        max_value=_MAX_ID,
        required=False,
        help_text="Product id: enough when the product has exactly one active variant "
        "(else 400 `variant_required`). With `variant`, it must be that variant's product.",
    )
    quantity = serializers.IntegerField(
        min_value=1,
        max_value=_MAX_ID,
        default=1,
        help_text="Units to add (default 1); the line may hold at most "
        "NEXUS_CART_MAX_QUANTITY (1000 by default).",
    )

    def validate_quantity(self, value: int) -> int:
        return _validate_max(value)

    def validate(self, attrs):
        if "variant" not in attrs and "product" not in attrs:
            # Reported on `product`, the field a v1 client knows.
            raise serializers.ValidationError(
                {"product": ["Give product (or variant)."]}, code="required"
            )
        return attrs


class CartItemUpdateSerializer(serializers.Serializer):
    quantity = serializers.IntegerField(
        min_value=0,
        max_value=_MAX_ID,
        help_text="The line's new quantity; 0 removes the line. At most "
        "NEXUS_CART_MAX_QUANTITY (1000 by default).",
    )

    def validate_quantity(self, value: int) -> int:
        return _validate_max(value)
