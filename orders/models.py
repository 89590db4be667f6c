"""Orders with their lines and history, and the rules that price a checkout: shipping
methods, tax rates, vouchers and the vouchers' redemptions.

Lines copy the product's name, the variant's name, SKU and price, and orders copy both
addresses, so an order reads the same forever whatever later happens to the catalog or the
address book.
"""

from decimal import Decimal

from django.conf import settings
from django.db import models
from django.db.models.functions import Upper

from catalog.models import Category, Product, ProductVariant
from orders.choices import OrderEventKind, OrderStatus, PaymentMethod, PaymentStatus, VoucherKind

MONEY = {"max_digits": 12, "decimal_places": 2}


def _choices_check(field: str, choices: type[models.TextChoices], name: str):
    return models.CheckConstraint(condition=models.Q(**{f"{field}__in": choices.values}), name=name)


class Order(models.Model):
    # PROTECT: order history outlives accounts; an account with orders is deactivated.
    # Null for a guest order (v1.1), which is read and cancelled with its guest token.
    user = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.PROTECT,
        related_name="orders",
        null=True,
        blank=True,
    )
    # "NX-<year>-<zero-padded id>", set right after the insert in the same transaction.
    number = models.CharField(max_length=40, unique=True, editable=False)
    status = models.CharField(
        max_length=16, choices=OrderStatus.choices, default=OrderStatus.PENDING, db_index=True
    )
    payment_status = models.CharField(
        max_length=20, choices=PaymentStatus.choices, default=PaymentStatus.UNPAID, db_index=True
    )
    payment_method = models.CharField(max_length=20, choices=PaymentMethod.choices)
    payment_reference = models.CharField(max_length=100, blank=True)
    subtotal = models.DecimalField(max_digits=12, decimal_places=2)
    shipping_cost = models.DecimalField(max_digits=12, decimal_places=2)
    total = models.DecimalField(max_digits=12, decimal_places=2)
    currency = models.CharField(max_length=3)
    # The money ledger, kept by orders.services: what was received (every successful
    # payment, duplicates included) and what went back; payment_status follows from it.
    amount_paid = models.DecimalField(max_digits=12, decimal_places=2, default=Decimal("0.00"))
    amount_refunded = models.DecimalField(max_digits=12, decimal_places=2, default=Decimal("0.00"))
    shipping_address = models.JSONField()
    billing_address = models.JSONField()
    note = models.TextField(blank=True)
    tracking_number = models.CharField(max_length=100, blank=True)
    # v1.1 snapshot (orders placed before it keep the defaults): where the confirmation
    # went, the guest's secret (SHA-256 of it; the token itself is shown once), and every
    # amount of the price breakdown, so later rate or voucher changes never alter it.
    email = models.EmailField(max_length=254, blank=True, default="")
    guest_token_hash = models.CharField(
        max_length=64, null=True, blank=True, unique=True, editable=False
    )
    discount_total = models.DecimalField(**MONEY, default=Decimal("0.00"))
    tax_total = models.DecimalField(**MONEY, default=Decimal("0.00"))
    shipping_tax_amount = models.DecimalField(**MONEY, default=Decimal("0.00"))
    shipping_method_code = models.CharField(max_length=50, blank=True, default="")
    shipping_method_name = models.CharField(max_length=100, blank=True, default="")
    voucher_code = models.CharField(max_length=64, blank=True, default="")
    prices_include_tax = models.BooleanField(default=False)
    created_at = models.DateTimeField(auto_now_add=True, db_index=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["-created_at", "-id"]
        constraints = [
            _choices_check("status", OrderStatus, "orders_order_status_valid"),
            _choices_check("payment_status", PaymentStatus, "orders_order_payment_status_valid"),
            _choices_check("payment_method", PaymentMethod, "orders_order_payment_method_valid"),
            models.CheckConstraint(
                condition=models.Q(subtotal__gte=0, shipping_cost__gte=0, total__gte=0),
                name="orders_order_amounts_gte_0",
            ),
            models.CheckConstraint(
                condition=models.Q(
                    discount_total__gte=0, tax_total__gte=0, shipping_tax_amount__gte=0
                ),
                name="orders_order_breakdown_gte_0",
            ),
            models.CheckConstraint(
                condition=models.Q(user__isnull=False) | models.Q(guest_token_hash__isnull=False),
                name="orders_order_user_or_guest",
            ),
            models.CheckConstraint(
                condition=models.Q(
                    amount_refunded__gte=0, amount_refunded__lte=models.F("amount_paid")
                ),
                name="orders_order_refunded_lte_paid",
            ),
        ]
        indexes = [
            models.Index(fields=["user", "-created_at"], name="orders_order_user_created"),
        ]

    def __str__(self) -> str:
        return self.number

    @property
    def is_guest(self) -> bool:
        return self.user_id is None


class OrderItem(models.Model):
    order = models.ForeignKey(Order, on_delete=models.CASCADE, related_name="items")
    # PROTECT: the catalog deactivates products instead of deleting them.
    product = models.ForeignKey(Product, on_delete=models.PROTECT, related_name="+")
    # PROTECT too: a variant that was ordered is deactivated, never deleted.
    variant = models.ForeignKey(ProductVariant, on_delete=models.PROTECT, related_name="+")
    product_name = models.CharField(max_length=200)
    # Snapshots like product_name: the variant's name ("Red / M") and SKU when ordered.
    variant_name = models.CharField(max_length=200, blank=True, default="")
    sku = models.CharField(max_length=64)
    unit_price = models.DecimalField(max_digits=12, decimal_places=2)
    quantity = models.PositiveIntegerField()
    line_total = models.DecimalField(max_digits=12, decimal_places=2)
    # v1.1: this line's share of the voucher's discount, its tax rate (percent) and tax
    # (orders/pricing.py). line_total stays unit_price x quantity, before the discount.
    discount_amount = models.DecimalField(**MONEY, default=Decimal("0.00"))
    tax_rate = models.DecimalField(max_digits=5, decimal_places=2, default=Decimal("0.00"))
    tax_amount = models.DecimalField(**MONEY, default=Decimal("0.00"))

    class Meta:
        ordering = ["id"]
        constraints = [
            models.CheckConstraint(
                condition=models.Q(quantity__gt=0), name="orders_item_quantity_gt_0"
            ),
            models.CheckConstraint(
                condition=models.Q(unit_price__gte=Decimal("0")),
                name="orders_item_unit_price_gte_0",
            ),
            models.UniqueConstraint(
                fields=["order", "variant"], name="orders_item_one_line_per_variant"
            ),
            models.CheckConstraint(
                condition=models.Q(
                    discount_amount__gte=0,
                    discount_amount__lte=models.F("line_total"),
                    tax_amount__gte=0,
                    tax_rate__gte=0,
                ),
                name="orders_item_breakdown_valid",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.quantity} x {self.sku}"


class OrderEvent(models.Model):
    """One line of an order's history: who changed what, from which value to which."""

    order = models.ForeignKey(Order, on_delete=models.CASCADE, related_name="events")
    kind = models.CharField(max_length=16, choices=OrderEventKind.choices)
    actor = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    from_value = models.CharField(max_length=100, blank=True)
    to_value = models.CharField(max_length=100, blank=True)
    note = models.TextField(blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["created_at", "id"]

    def __str__(self) -> str:
        return f"{self.order_id}: {self.kind} {self.from_value} -> {self.to_value}"


# --------------------------------------------------------------------------- pricing rules


class ShippingMethod(models.Model):
    """A way to ship, with the zone it serves: ``countries`` (ISO codes; empty = all)."""

    code = models.SlugField(max_length=50, unique=True)
    name = models.CharField(max_length=100)
    price = models.DecimalField(**MONEY)
    # The goods amount (subtotal - discount_total) from which this method is free.
    free_above = models.DecimalField(**MONEY, null=True, blank=True)
    countries = models.JSONField(default=list, blank=True)
    estimated_days_min = models.PositiveSmallIntegerField(null=True, blank=True)
    estimated_days_max = models.PositiveSmallIntegerField(null=True, blank=True)
    is_active = models.BooleanField(default=True)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["price", "code"]
        constraints = [
            models.CheckConstraint(
                condition=models.Q(price__gte=0)
                & (models.Q(free_above__isnull=True) | models.Q(free_above__gte=0)),
                name="orders_shipping_amounts_gte_0",
            ),
            models.CheckConstraint(
                condition=models.Q(estimated_days_min__isnull=True)
                | models.Q(estimated_days_max__isnull=True)
                | models.Q(estimated_days_min__lte=models.F("estimated_days_max")),
                name="orders_shipping_days_ordered",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.name} ({self.code})"


class TaxRate(models.Model):
    """A tax rate in percent for a country, or for one region (the address's ``state``)."""

    country = models.CharField(max_length=2)
    region = models.CharField(max_length=100, blank=True, default="")
    rate = models.DecimalField(max_digits=5, decimal_places=2)
    applies_to_shipping = models.BooleanField(default=False)
    name = models.CharField(max_length=100, blank=True, default="")
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["country", "region"]
        constraints = [
            models.UniqueConstraint(
                "country", Upper("region"), name="orders_taxrate_one_per_region"
            ),
            models.CheckConstraint(
                condition=models.Q(rate__gte=0, rate__lte=100), name="orders_taxrate_rate_0_100"
            ),
        ]

    def __str__(self) -> str:
        where = f"{self.country}-{self.region}" if self.region else self.country
        return f"{where}: {self.rate}%"


class Voucher(models.Model):
    """A discount code; ``used_count`` only moves by conditional UPDATEs (services)."""

    code = models.CharField(max_length=64, unique=True)  # stored upper-case
    kind = models.CharField(max_length=16, choices=VoucherKind.choices)
    value = models.DecimalField(**MONEY, default=Decimal("0.00"))
    min_subtotal = models.DecimalField(**MONEY, default=Decimal("0.00"))
    starts_at = models.DateTimeField(null=True, blank=True)
    ends_at = models.DateTimeField(null=True, blank=True)
    usage_limit = models.PositiveIntegerField(null=True, blank=True)
    used_count = models.PositiveIntegerField(default=0, editable=False)
    once_per_customer = models.BooleanField(default=False)
    is_active = models.BooleanField(default=True)
    categories = models.ManyToManyField(Category, blank=True, related_name="+")
    products = models.ManyToManyField(Product, blank=True, related_name="+")
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["-created_at", "-id"]
        constraints = [
            _choices_check("kind", VoucherKind, "orders_voucher_kind_valid"),
            models.CheckConstraint(
                condition=models.Q(value__gte=0, min_subtotal__gte=0),
                name="orders_voucher_amounts_gte_0",
            ),
            models.CheckConstraint(
                condition=~models.Q(kind=VoucherKind.PERCENTAGE) | models.Q(value__lte=100),
                name="orders_voucher_percentage_lte_100",
            ),
            # The last line of defence behind the conditional UPDATE of used_count.
            models.CheckConstraint(
                condition=models.Q(usage_limit__isnull=True)
                | models.Q(used_count__lte=models.F("usage_limit")),
                name="orders_voucher_used_within_limit",
            ),
            models.CheckConstraint(
                condition=models.Q(starts_at__isnull=True)
                | models.Q(ends_at__isnull=True)
                | models.Q(ends_at__gt=models.F("starts_at")),
                name="orders_voucher_window_ordered",
            ),
        ]

    def __str__(self) -> str:
        return self.code


class VoucherRedemption(models.Model):
    """One use of a voucher by one order; deleted when that order is cancelled."""

    voucher = models.ForeignKey(Voucher, on_delete=models.PROTECT, related_name="redemptions")
    order = models.OneToOneField(Order, on_delete=models.CASCADE, related_name="redemption")
    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    # users.models.email_key of the order's email: "once per customer" for guests too.
    email_key = models.CharField(max_length=254)
    # Set (= email_key) only for once-per-customer vouchers, so the unique constraint
    # below holds that rule even under concurrent checkouts.
    # NULL, not "": NULLs never collide in the unique constraint.
    once_key = models.CharField(max_length=254, null=True, blank=True)  # noqa: DJ001
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["voucher", "once_key"], name="orders_redemption_once"),
        ]
        indexes = [models.Index(fields=["voucher", "email_key"], name="orders_redemption_email")]

    def __str__(self) -> str:
        return f"{self.voucher_id} -> {self.order_id}"
