"""Input and output serializers of the catalog app, and ``product_data`` and
``category_data``: the product and category representations without DRF fields for the
hot product list and detail and the category list."""

from collections.abc import Callable, Iterable
from decimal import Decimal
from functools import partial

from django.conf import settings
from django.core.files.storage import FileSystemStorage, default_storage
from django.utils import timezone
from django.utils.encoding import filepath_to_uri
from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers

from catalog.models import Category, Product, ProductImage, ProductVariant
from catalog.selectors import (
    ProductRow,
    category_product_count,
    product_related,
    variant_options,
)
from nexus.representation import decimal_context, drf_datetime, drf_decimal

_MONEY = {"max_digits": 12, "decimal_places": 2}


class CategorySerializer(serializers.ModelSerializer):
    """A category. ``product_count`` counts active products in the category and in all
    its subcategories (the same set ``products/?category=`` returns to the public)."""

    product_count = serializers.SerializerMethodField(
        help_text="Active products in this category and all its subcategories."
    )

    class Meta:
        model = Category
        fields = ["id", "name", "slug", "description", "parent", "product_count"]
        read_only_fields = ["id", "slug", "product_count"]

    def get_product_count(self, obj: Category) -> int:
        tree = self.context.get("tree")
        if tree is None:
            return 0
        return category_product_count(tree=tree, category_id=obj.pk)


def category_data(rows: Iterable[tuple], *, tree: dict[int, dict]) -> list[dict]:
    """``CategorySerializer(categories, many=True, context={"tree": tree}).data`` for
    ``selectors.category_rows`` tuples, without DRF fields: the same dicts, key for key
    (``test_categories_list_body_equals_the_serializer_output`` holds them equal)."""
    return [
        {
            "id": category_id,
            "name": str(name),
            "slug": str(slug),
            "description": str(description),
            "parent": parent_id,
            "product_count": category_product_count(tree=tree, category_id=category_id),
        }
        for category_id, name, slug, description, parent_id, _ in rows
    ]


class CategoryWriteSerializer(serializers.ModelSerializer):
    parent = serializers.PrimaryKeyRelatedField(
        queryset=Category.objects.all(), allow_null=True, required=False
    )

    class Meta:
        model = Category
        fields = ["name", "description", "parent"]


class CategoryBriefSerializer(serializers.Serializer):
    id = serializers.IntegerField()
    name = serializers.CharField()
    slug = serializers.CharField()


def media_url(request, name: str) -> str:
    """Absolute URL of a stored file (MEDIA_URL may be relative, e.g. ``media/``)."""
    url = default_storage.url(name)
    if url.startswith(("http://", "https://")):
        return url
    if not url.startswith("/"):
        url = "/" + url
    return request.build_absolute_uri(url) if request is not None else url


def media_urls(request) -> Callable[[str], str]:
    """``partial(media_url, request)``, with the work that is the same for every file done
    once: the list page's 20 products have 20 or more images, and per image the storage's
    ``urljoin`` and the request's ``build_absolute_uri`` were about 40% of building the
    page's product bodies (docs/PERFORMANCE.md, "Image URLs, orjson, shared filter
    fields, Celery's configuration").

    With Django's own file-system storage, a file's URL is the storage's base URL (made
    absolute once) followed by its quoted name: what ``urljoin`` and ``build_absolute_uri``
    make of it whenever the quoted name has no empty or dot segment for ``urljoin`` to
    fold (such a name, and any other storage, takes ``media_url``). The quoted name is
    already a URI (``filepath_to_uri``), which ``build_absolute_uri``'s ``iri_to_uri``
    leaves as it is. ``test_media_urls_are_media_url`` holds the two equal.
    """
    if default_storage.__class__ is not FileSystemStorage:
        return partial(media_url, request)
    root = media_url(request, "")  # the base URL, absolute; it ends with "/"

    def url_of(name: str) -> str:
        path = filepath_to_uri(name).lstrip("/")
        if "//" in path or "/." in "/" + path:
            return media_url(request, name)
        return root + path

    return url_of


class ProductImageSerializer(serializers.ModelSerializer):
    url = serializers.SerializerMethodField(help_text="Absolute URL of the image file.")

    class Meta:
        model = ProductImage
        fields = ["id", "url", "alt_text", "is_primary"]

    def get_url(self, obj: ProductImage) -> str:
        return media_url(self.context.get("request"), obj.image.name)


class ProductImageUploadSerializer(serializers.Serializer):
    image = serializers.FileField(
        help_text="JPEG, PNG, WebP or GIF, at most 5 MB; decoded to check it is an image."
    )
    alt_text = serializers.CharField(max_length=200, required=False, allow_blank=True)
    is_primary = serializers.BooleanField(required=False, default=False)


class ProductOptionSerializer(serializers.Serializer):
    name = serializers.CharField(max_length=50)
    values = serializers.ListField(
        child=serializers.CharField(max_length=50),
        min_length=1,
        max_length=100,
        help_text="The option's values in display order.",
    )

    def to_representation(self, option):
        return {"name": option.name, "values": [value.value for value in option.values.all()]}


class ProductAttributeSerializer(serializers.Serializer):
    name = serializers.CharField(max_length=50)
    value = serializers.CharField(max_length=100)


class VariantOptionsField(serializers.DictField):
    """``{"Color": "Red", "Size": "M"}``: one value per product option."""

    child = serializers.CharField(max_length=50)


class ProductVariantSerializer(serializers.ModelSerializer):
    """A variant as the API shows it (inside a product, and on the staff endpoints)."""

    options = serializers.SerializerMethodField(
        help_text='The variant\'s option values, {"Color": "Red", "Size": "M"}, in option order.'
    )
    in_stock = serializers.BooleanField(read_only=True)

    class Meta:
        model = ProductVariant
        fields = [
            "id",
            "sku",
            "name",
            "options",
            "price",
            "compare_at_price",
            "stock_quantity",
            "in_stock",
            "is_active",
            "position",
        ]
        read_only_fields = fields
        extra_kwargs = {
            "name": {"help_text": 'The option values joined, "Red / M" ("" without options).'},
            "compare_at_price": {"help_text": "A former or list price, above `price`, or null."},
        }

    @extend_schema_field(VariantOptionsField())
    def get_options(self, variant: ProductVariant) -> dict[str, str]:
        return variant_options(variant.product, variant)


class ProductSerializer(serializers.ModelSerializer):
    """A product as the API shows it. ``price`` is the lowest active variant price,
    ``stock_quantity`` the sum over active variants; the public sees active variants
    only."""

    currency = serializers.SerializerMethodField()
    category = CategoryBriefSerializer(read_only=True)
    stock_quantity = serializers.IntegerField(
        read_only=True, help_text="Units in stock over the active variants."
    )
    in_stock = serializers.BooleanField(
        read_only=True, help_text="Whether any active variant is in stock."
    )
    price_max = serializers.DecimalField(
        **_MONEY, read_only=True, help_text="The highest price of the active variants."
    )
    images = ProductImageSerializer(many=True, read_only=True)
    options = ProductOptionSerializer(many=True, read_only=True)
    variants = serializers.SerializerMethodField(
        help_text="The product's variants in display order (the public sees active ones)."
    )
    attributes = ProductAttributeSerializer(many=True, read_only=True)
    rating_histogram = serializers.SerializerMethodField(
        help_text='Approved reviews per star, always all five keys: {"1": n, ..., "5": n}.',
    )

    @extend_schema_field(serializers.DictField(child=serializers.IntegerField()))
    def get_rating_histogram(self, product: Product) -> dict[str, int]:
        stored = product.rating_histogram or {}
        return {str(star): int(stored.get(str(star), 0)) for star in range(1, 6)}

    @extend_schema_field(ProductVariantSerializer(many=True))
    def get_variants(self, product: Product) -> list[dict]:
        staff = self.context.get("staff", False)
        variants = [v for v in product.variants.all() if staff or v.is_active]
        for variant in variants:
            variant.product = product  # the prefetched options live on this instance
        return ProductVariantSerializer(variants, many=True, context=self.context).data

    class Meta:
        model = Product
        fields = [
            "id",
            "name",
            "slug",
            "sku",
            "brand",
            "description",
            "price",
            "price_max",
            "currency",
            "category",
            "stock_quantity",
            "in_stock",
            "is_active",
            "is_featured",
            "images",
            "options",
            "variants",
            "attributes",
            "average_rating",
            "review_count",
            "rating_histogram",
            "created_at",
            "updated_at",
        ]
        read_only_fields = fields
        extra_kwargs = {
            "price": {"help_text": "The lowest price of the active variants."},
            "sku": {
                "help_text": "The product's SKU: its only variant's for a single-variant "
                "product, else a style code (variant SKUs are under `variants`)."
            },
        }

    def get_currency(self, obj: Product) -> str:
        return settings.NEXUS_CURRENCY


# ------------------------------------------------------------------ fast representation

# The contexts DRF's DecimalFields of these columns quantize in (nexus/representation.py).
_MONEY_CONTEXT = decimal_context(_MONEY["max_digits"])
_RATING_CONTEXT = decimal_context(Product._meta.get_field("average_rating").max_digits)


def product_data(
    products: Iterable[Product | ProductRow],
    *,
    request,
    staff: bool,
    related: dict | None = None,
) -> list[dict]:
    """``ProductSerializer(products, many=True).data`` without DRF fields: the same
    dicts, key for key and value for value (``test_product_data_is_the_serializer_output_
    for_every_product`` holds them equal), built from the products (instances with their
    category, as the detail reads them, or ``selectors.ProductRow``s, as the list does)
    and the rows of ``selectors.product_related`` (read here unless given as ``related``).

    The list and detail use it, public and staff alike: a serializer instance per product
    and per variant list re-built every field of ``ProductVariantSerializer`` for each
    product and cost more than the queries. ``ProductSerializer`` still defines the
    schema and serves the write responses (create, update).
    """
    products = list(products)
    if related is None:
        related = product_related(product_ids=[product.pk for product in products])
    zone = timezone.get_current_timezone()
    currency = settings.NEXUS_CURRENCY
    url_of = media_urls(request)
    return [
        _product_dict(product, related[product.pk], staff, zone, currency, url_of)
        for product in products
    ]


def _product_dict(
    product: Product | ProductRow, rows, staff: bool, zone, currency: str, url_of
) -> dict:
    # option value id -> (option index, option name, value), as ``variant_options`` reads it
    by_value = {
        value_id: (index, name, value)
        for index, (_, name, values) in enumerate(rows.options)
        for value_id, value in values
    }
    active = [variant for variant in rows.variants if variant[6]]
    priced = active or rows.variants
    variants = []
    for variant_id, sku, name, price, compare_at, stock, is_active, position, key in rows.variants:
        if not (staff or is_active):
            continue
        picked = sorted(by_value[int(pk)] for pk in key.split(",") if pk and int(pk) in by_value)
        variants.append(
            {
                "id": variant_id,
                "sku": str(sku),
                "name": str(name),
                "options": {option: str(value) for _, option, value in picked},
                "price": drf_decimal(price, _MONEY_CONTEXT),
                "compare_at_price": drf_decimal(compare_at, _MONEY_CONTEXT),
                "stock_quantity": int(stock),
                "in_stock": stock > 0,
                "is_active": bool(is_active),
                "position": int(position),
            }
        )
    category = product.category
    stored = product.rating_histogram or {}
    return {
        "id": product.pk,
        "name": str(product.name),
        "slug": str(product.slug),
        "sku": str(product.sku),
        "brand": str(product.brand),
        "description": str(product.description),
        "price": drf_decimal(product.price, _MONEY_CONTEXT),
        "price_max": drf_decimal(
            max((variant[3] for variant in priced), default=product.price), _MONEY_CONTEXT
        ),
        "currency": currency,
        "category": {"id": category.pk, "name": str(category.name), "slug": str(category.slug)},
        "stock_quantity": sum(variant[5] for variant in active),
        "in_stock": any(variant[5] > 0 for variant in active),
        "is_active": bool(product.is_active),
        "is_featured": bool(product.is_featured),
        "images": [
            {"id": image_id, "url": url_of(name), "alt_text": str(alt), "is_primary": bool(primary)}
            for image_id, name, alt, primary in rows.images
        ],
        "options": [
            {"name": str(name), "values": [str(value) for _, value in values]}
            for _, name, values in rows.options
        ],
        "variants": variants,
        "attributes": [{"name": str(name), "value": str(value)} for name, value in rows.attributes],
        "average_rating": drf_decimal(product.average_rating, _RATING_CONTEXT),
        "review_count": int(product.review_count),
        "rating_histogram": {str(star): int(stored.get(str(star), 0)) for star in range(1, 6)},
        "created_at": drf_datetime(product.created_at, zone),
        "updated_at": drf_datetime(product.updated_at, zone),
    }


class VariantCreateSerializer(serializers.Serializer):
    """A new variant: its SKU, one value for every product option, price and stock."""

    sku = serializers.CharField(max_length=64)
    options = VariantOptionsField(
        required=False,
        default=dict,
        help_text='{"Size": "M", "Color": "Red"}: a value of every product option (names '
        "and values case-insensitive). Unknown ones: 400 `unknown_option` / "
        "`unknown_option_value`; a combination the product already has: 409 `duplicate_variant`.",
    )
    price = serializers.DecimalField(**_MONEY, min_value=Decimal("0"))
    compare_at_price = serializers.DecimalField(
        **_MONEY, min_value=Decimal("0"), required=False, allow_null=True,
        help_text="Above `price`, or null.",
    )  # fmt: skip
    stock_quantity = serializers.IntegerField(
        min_value=0, max_value=2_147_483_647, required=False, default=0,
        help_text="Initial stock; afterwards only POST .../stock/ changes it.",
    )  # fmt: skip
    is_active = serializers.BooleanField(required=False, default=True)
    position = serializers.IntegerField(min_value=0, max_value=2_147_483_647, required=False)


class VariantUpdateSerializer(serializers.Serializer):
    """Variant changes (PATCH). Stock is not editable: POST .../stock/ adjusts it."""

    sku = serializers.CharField(max_length=64, required=False)
    options = VariantOptionsField(required=False)
    price = serializers.DecimalField(**_MONEY, min_value=Decimal("0"), required=False)
    compare_at_price = serializers.DecimalField(
        **_MONEY, min_value=Decimal("0"), required=False, allow_null=True
    )
    is_active = serializers.BooleanField(required=False)
    position = serializers.IntegerField(min_value=0, max_value=2_147_483_647, required=False)


class ProductWriteSerializer(serializers.ModelSerializer):
    """Product create/update body. ``category`` is an id; the slug is generated.

    Create takes either the v1 fields ``price``, ``stock_quantity``, ``sku`` (one default
    variant is created with them) or ``options`` plus ``variants``.
    """

    sku = serializers.CharField(
        max_length=64,
        required=False,
        help_text="Required with the v1 fields; with `variants` it defaults to the first "
        "variant's SKU.",
    )
    price = serializers.DecimalField(
        **_MONEY,
        min_value=Decimal("0"),
        required=False,
        help_text="v1: the price of the product's only variant (required on create "
        "without `variants`). On a product with several variants: 400 `variant_required`.",
    )
    compare_at_price = serializers.DecimalField(
        **_MONEY, min_value=Decimal("0"), required=False, allow_null=True,
        help_text="v1 style: of the product's only variant.",
    )  # fmt: skip
    stock_quantity = serializers.IntegerField(
        min_value=0,
        max_value=2_147_483_647,
        required=False,
        help_text="Initial stock of the default variant, on create only. Afterwards stock "
        "changes only through POST products/{id}/stock/ (a relative, atomic adjustment); on "
        "PUT/PATCH the value is ignored, so a form cannot write back a stale level over "
        "concurrent checkouts.",
    )
    category = serializers.PrimaryKeyRelatedField(queryset=Category.objects.all())
    options = ProductOptionSerializer(
        many=True,
        required=False,
        max_length=10,
        help_text="The product's options with their values, in display order. On update "
        "the list replaces the current one; removing a value a variant uses, or adding an "
        "option once variants exist: 409 `option_in_use`.",
    )
    variants = VariantCreateSerializer(
        many=True,
        required=False,
        min_length=1,
        max_length=250,
        help_text="On create only: the variants, created with the product.",
    )
    attributes = ProductAttributeSerializer(
        many=True,
        required=False,
        max_length=50,
        help_text="Name/value pairs; on update the list replaces the current one.",
    )

    class Meta:
        model = Product
        fields = [
            "name",
            "sku",
            "brand",
            "description",
            "price",
            "compare_at_price",
            "stock_quantity",
            "category",
            "is_active",
            "is_featured",
            "options",
            "variants",
            "attributes",
        ]

    def validate(self, attrs):
        if self.instance is None:
            if attrs.get("variants"):
                given = [f for f in ("price", "compare_at_price", "stock_quantity") if f in attrs]
                if given:
                    raise serializers.ValidationError(
                        {given[0]: ["Give the v1 fields or `variants`, not both."]},
                        code="conflict",
                    )
            else:
                missing = {
                    field: ["This field is required (or give `variants`)."]
                    for field in ("sku", "price")
                    if field not in attrs
                }
                if missing:
                    raise serializers.ValidationError(missing, code="required")
        elif "variants" in attrs:
            raise serializers.ValidationError(
                {"variants": ["Manage variants with products/{id}/variants/."]}, code="invalid"
            )
        return attrs


class StockAdjustSerializer(serializers.Serializer):
    delta = serializers.IntegerField(
        min_value=-1_000_000_000,
        max_value=1_000_000_000,
        help_text="Units to add (negative to remove). Applied atomically.",
    )
