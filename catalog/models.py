"""Catalog tables: a category tree, products with denormalised price range and rating
aggregates, their options (ordered values), variants (the sellable units that carry SKU,
price and stock), attributes and images. Constraints back every rule the services rely on."""

from decimal import Decimal

from django.contrib.postgres.search import SearchVectorField
from django.core.validators import MinValueValidator
from django.db import models
from django.db.models import F


class Category(models.Model):
    name = models.CharField(max_length=120)
    slug = models.SlugField(max_length=140, unique=True)
    description = models.TextField(blank=True)
    parent = models.ForeignKey(
        "self", null=True, blank=True, on_delete=models.PROTECT, related_name="children"
    )
    # The category's own active products (not its subcategories'; subtree sums are added
    # up from the small tree in Python). Written by the catalog services in the same
    # transaction as each product create, delete, (de)activation or move, as a relative
    # F() update, so concurrent writers never lose one; ``catalog_recount`` reconciles.
    product_count = models.PositiveIntegerField(default=0, editable=False)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["name", "id"]
        verbose_name_plural = "categories"

    def __str__(self) -> str:
        return self.name


class Product(models.Model):
    name = models.CharField(max_length=200)
    slug = models.SlugField(max_length=220, unique=True)
    sku = models.CharField(max_length=64, unique=True)
    brand = models.CharField(max_length=100, blank=True, db_index=True)
    description = models.TextField(blank=True)
    # The lowest price of the product's active variants (of all variants when none is
    # active), written by the catalog services with every variant change: it serves
    # ordering and the v1 `price` field. Stock is read from the variants.
    price = models.DecimalField(
        max_digits=12, decimal_places=2, validators=[MinValueValidator(Decimal("0"))]
    )
    # The width of the active variants' price range: their highest price minus ``price``
    # (their lowest), NULL when no variant is active. Written with ``price``, it lets a
    # lone price bound filter without an EXISTS over the variants (an active variant
    # priced >= X exists exactly when ``price + active_price_spread >= X``; one priced
    # <= Y exactly when the spread is not NULL and ``price <= Y``). A spread rather than
    # the highest price itself: it is 0 for most products (one price for every variant),
    # so the migration that added it wrote only the other rows (issue 14: migrations stay
    # fast at 100,000 products). The API's ``price_max`` stays the property below.
    active_price_spread = models.DecimalField(
        max_digits=12, decimal_places=2, null=True, blank=True, default=Decimal("0"),
        editable=False,
    )  # fmt: skip
    category = models.ForeignKey(Category, on_delete=models.PROTECT, related_name="products")
    is_active = models.BooleanField(default=True)
    is_featured = models.BooleanField(default=False)
    # Kept up to date by the reviews app in the same transaction as each review change.
    average_rating = models.DecimalField(max_digits=3, decimal_places=2, default=Decimal("0"))
    review_count = models.PositiveIntegerField(default=0)
    # Approved reviews per star, {"1": n, ..., "5": n}; written with the two fields above.
    rating_histogram = models.JSONField(default=dict, blank=True)
    created_at = models.DateTimeField(auto_now_add=True, db_index=True)
    updated_at = models.DateTimeField(auto_now=True)
    # Weighted full-text document (name and brand A, sku B, description C). On PostgreSQL a
    # trigger (migration 0002) keeps it current on every insert and update, bulk ones
    # included; it is GIN-indexed there together with trigram indexes for partial words.
    # Always NULL on SQLite, where search is a plain substring match.
    search_vector = SearchVectorField(null=True, editable=False)

    class Meta:
        ordering = ["-created_at", "-id"]
        constraints = [
            models.CheckConstraint(
                condition=models.Q(price__gte=0), name="catalog_product_price_gte_0"
            ),
            models.CheckConstraint(
                condition=models.Q(active_price_spread__gte=0),
                name="catalog_product_spread_gte_0",
            ),
            models.CheckConstraint(
                condition=models.Q(average_rating__gte=0, average_rating__lte=5),
                name="catalog_product_rating_0_5",
            ),
        ]
        indexes = [
            models.Index(fields=["is_active", "-created_at"], name="catalog_prod_active_created"),
            models.Index(fields=["is_active", "price"], name="catalog_prod_active_price"),
            models.Index(fields=["category", "is_active"], name="catalog_prod_category_active"),
            # A lone price bound in a category, counted by an index-only scan: ``price_max``
            # (price and a spread) as a range of this one, ``price_min`` (the highest
            # price, price + spread) as a range of the next, which INCLUDEs the two
            # columns because PostgreSQL reads no column out of an index expression (it
            # would visit the heap, or not pick the index at all).
            models.Index(
                fields=["is_active", "category", "price", "active_price_spread"],
                name="catalog_prod_active_cat_price",
            ),
            models.Index(
                F("is_active"),
                F("category"),
                F("price") + F("active_price_spread"),
                include=["price", "active_price_spread"],
                name="catalog_prod_active_cat_top",
            ),
            models.Index(fields=["is_active", "name"], name="catalog_prod_active_name"),
            models.Index(
                fields=["is_active", "-average_rating"], name="catalog_prod_active_rating"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.name} ({self.sku})"

    def _active_variants(self) -> list["ProductVariant"]:
        # Reads the prefetched variants when the selector loaded them (no query then).
        return [variant for variant in self.variants.all() if variant.is_active]

    @property
    def price_max(self) -> Decimal:
        """The highest price of the active variants (of all of them when none is active)."""
        variants = self._active_variants() or list(self.variants.all())
        return max((variant.price for variant in variants), default=self.price)

    @property
    def stock_quantity(self) -> int:
        """Units in stock over the active variants."""
        return sum(variant.stock_quantity for variant in self._active_variants())

    @property
    def in_stock(self) -> bool:
        return any(variant.stock_quantity > 0 for variant in self._active_variants())


class ProductOption(models.Model):
    """An axis a product varies along (Size, Color), with its values in display order."""

    product = models.ForeignKey(Product, on_delete=models.CASCADE, related_name="options")
    name = models.CharField(max_length=50)
    position = models.PositiveSmallIntegerField(default=0)

    class Meta:
        ordering = ["position", "id"]
        constraints = [
            models.UniqueConstraint(fields=["product", "name"], name="catalog_option_unique_name")
        ]

    def __str__(self) -> str:
        return self.name


class ProductOptionValue(models.Model):
    option = models.ForeignKey(ProductOption, on_delete=models.CASCADE, related_name="values")
    value = models.CharField(max_length=50)
    position = models.PositiveSmallIntegerField(default=0)

    class Meta:
        ordering = ["position", "id"]
        constraints = [
            models.UniqueConstraint(fields=["option", "value"], name="catalog_option_value_unique")
        ]

    def __str__(self) -> str:
        return self.value


class ProductVariant(models.Model):
    """A sellable unit of a product: one combination of option values (none for a
    single-variant product) with its own SKU, price and stock."""

    product = models.ForeignKey(Product, on_delete=models.CASCADE, related_name="variants")
    sku = models.CharField(max_length=64, unique=True)
    # "Red / M": the option values in option order, written by the services ("" for none).
    name = models.CharField(max_length=200, blank=True)
    price = models.DecimalField(
        max_digits=12, decimal_places=2, validators=[MinValueValidator(Decimal("0"))]
    )
    compare_at_price = models.DecimalField(max_digits=12, decimal_places=2, null=True, blank=True)
    stock_quantity = models.PositiveIntegerField(default=0)
    is_active = models.BooleanField(default=True)
    position = models.PositiveIntegerField(default=0)
    option_values = models.ManyToManyField(ProductOptionValue, related_name="variants", blank=True)
    # The variant's option value ids, sorted and comma-joined ("" for none): with the
    # unique constraint below the database allows each combination once per product.
    combination_key = models.CharField(max_length=255, default="", blank=True, editable=False)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["position", "id"]
        constraints = [
            models.CheckConstraint(
                condition=models.Q(stock_quantity__gte=0), name="catalog_variant_stock_gte_0"
            ),
            models.CheckConstraint(
                condition=models.Q(price__gte=0), name="catalog_variant_price_gte_0"
            ),
            models.CheckConstraint(
                condition=models.Q(compare_at_price__isnull=True)
                | models.Q(compare_at_price__gt=models.F("price")),
                name="catalog_variant_compare_at_gt_price",
            ),
            models.UniqueConstraint(
                fields=["product", "combination_key"], name="catalog_variant_unique_combination"
            ),
        ]
        indexes = [
            models.Index(
                fields=["product", "is_active", "price"], name="catalog_variant_prod_active"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.sku} ({self.name})" if self.name else self.sku

    @property
    def in_stock(self) -> bool:
        return self.stock_quantity > 0


class ProductAttribute(models.Model):
    """A descriptive name/value pair (Material: Cotton), filterable with ``attribute=``."""

    product = models.ForeignKey(Product, on_delete=models.CASCADE, related_name="attributes")
    name = models.CharField(max_length=50)
    value = models.CharField(max_length=100)
    position = models.PositiveSmallIntegerField(default=0)

    class Meta:
        ordering = ["position", "id"]
        constraints = [
            models.UniqueConstraint(
                fields=["product", "name", "value"], name="catalog_attribute_unique"
            )
        ]
        indexes = [models.Index(fields=["name", "value"], name="catalog_attribute_name_value")]

    def __str__(self) -> str:
        return f"{self.name}: {self.value}"


def product_image_path(instance: "ProductImage", filename: str) -> str:
    return f"products/{instance.product_id}/{filename}"


class ProductImage(models.Model):
    product = models.ForeignKey(Product, on_delete=models.CASCADE, related_name="images")
    image = models.ImageField(upload_to=product_image_path, max_length=255)
    alt_text = models.CharField(max_length=200, blank=True)
    is_primary = models.BooleanField(default=False)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["-is_primary", "id"]
        constraints = [
            models.UniqueConstraint(
                fields=["product"],
                condition=models.Q(is_primary=True),
                name="catalog_image_one_primary_per_product",
            )
        ]

    def __str__(self) -> str:
        return f"Image {self.pk} of {self.product_id}"
