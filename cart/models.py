"""Carts: one persistent cart per user (a unique constraint) or a guest cart found by its
unguessable token, with one line per product variant."""

from django.conf import settings
from django.db import models

from catalog.models import ProductVariant


class Cart(models.Model):
    user = models.OneToOneField(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.CASCADE,
        related_name="cart",
    )
    token = models.CharField(max_length=64, unique=True)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True, db_index=True)

    def __str__(self) -> str:
        return f"Cart {self.pk} ({self.user or 'guest'})"

    @property
    def is_guest(self) -> bool:
        return self.user_id is None


class CartItem(models.Model):
    cart = models.ForeignKey(Cart, on_delete=models.CASCADE, related_name="items")
    variant = models.ForeignKey(ProductVariant, on_delete=models.CASCADE, related_name="+")
    quantity = models.PositiveIntegerField()
    # The price when the line was added, to warn the shopper when it changed.
    unit_price_at_add = models.DecimalField(max_digits=12, decimal_places=2)
    # Set when a merge had to cap the line at the stock available: what the shopper had asked
    # for, reported in `warnings` until the shopper next changes the line.
    quantity_requested = models.PositiveIntegerField(null=True, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["id"]
        constraints = [
            models.UniqueConstraint(
                fields=["cart", "variant"], name="cart_item_one_line_per_variant"
            ),
            models.CheckConstraint(
                condition=models.Q(quantity__gt=0), name="cart_item_quantity_gt_0"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.quantity} x variant {self.variant_id}"

    @property
    def product(self):
        """The variant's product (loaded with the line by ``cart.selectors``)."""
        return self.variant.product
