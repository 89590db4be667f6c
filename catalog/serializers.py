"""Input and output serializers of the catalog app."""

from decimal import Decimal

from django.conf import settings
from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers

from catalog.models import Category, Product, ProductImage
from catalog.selectors import category_product_count


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
    from django.core.files.storage import default_storage

    url = default_storage.url(name)
    if url.startswith(("http://", "https://")):
        return url
    if not url.startswith("/"):
        url = "/" + url
    return request.build_absolute_uri(url) if request is not None else url


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


class ProductSerializer(serializers.ModelSerializer):
    """A product as the API shows it."""

    currency = serializers.SerializerMethodField()
    category = CategoryBriefSerializer(read_only=True)
    in_stock = serializers.BooleanField(read_only=True)
    images = ProductImageSerializer(many=True, read_only=True)
    rating_histogram = serializers.SerializerMethodField(
        help_text='Approved reviews per star, always all five keys: {"1": n, ..., "5": n}.',
    )

    @extend_schema_field(serializers.DictField(child=serializers.IntegerField()))
    def get_rating_histogram(self, product: Product) -> dict[str, int]:
        stored = product.rating_histogram or {}
        return {str(star): int(stored.get(str(star), 0)) for star in range(1, 6)}

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
            "currency",
            "category",
            "stock_quantity",
            "in_stock",
            "is_active",
            "is_featured",
            "images",
            "average_rating",
            "review_count",
            "rating_histogram",
            "created_at",
            "updated_at",
        ]
        read_only_fields = fields

    def get_currency(self, obj: Product) -> str:
        return settings.NEXUS_CURRENCY


class ProductWriteSerializer(serializers.ModelSerializer):
    """Product create/update body. ``category`` is an id; the slug is generated."""

    price = serializers.DecimalField(max_digits=12, decimal_places=2, min_value=Decimal("0"))
    stock_quantity = serializers.IntegerField(min_value=0, max_value=2_147_483_647, required=False)
    category = serializers.PrimaryKeyRelatedField(queryset=Category.objects.all())

    class Meta:
        model = Product
        fields = [
            "name",
            "sku",
            "brand",
            "description",
            "price",
            "stock_quantity",
            "category",
            "is_active",
            "is_featured",
        ]
        # The service checks SKU uniqueness (and the database backs it).
        extra_kwargs = {"sku": {"validators": []}}


class StockAdjustSerializer(serializers.Serializer):
    delta = serializers.IntegerField(
        min_value=-1_000_000_000,
        max_value=1_000_000_000,
        help_text="Units to add (negative to remove). Applied atomically.",
    )
