"""Catalog tables: a category tree, products with stock and denormalised rating
aggregates, and product images. Constraints back every rule the services rely on."""

from decimal import Decimal

from django.contrib.postgres.search import SearchVectorField
from django.core.validators import MinValueValidator
from django.db import models


class Category(models.Model):
    name = models.CharField(max_length=120)
    slug = models.SlugField(max_length=140, unique=True)
    description = models.TextField(blank=True)
    parent = models.ForeignKey(
        "self", null=True, blank=True, on_delete=models.PROTECT, related_name="children"
    )
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
    price = models.DecimalField(
        max_digits=12, decimal_places=2, validators=[MinValueValidator(Decimal("0"))]
    )
    stock_quantity = models.PositiveIntegerField(default=0)
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
                condition=models.Q(stock_quantity__gte=0), name="catalog_product_stock_gte_0"
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
            models.Index(fields=["is_active", "name"], name="catalog_prod_active_name"),
            models.Index(
                fields=["is_active", "-average_rating"], name="catalog_prod_active_rating"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.name} ({self.sku})"

    @property
    def in_stock(self) -> bool:
        return self.stock_quantity > 0


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
