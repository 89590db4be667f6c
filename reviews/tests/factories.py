"""factory-boy factories for the reviews tests, with small catalog and order factories of
their own (rows made directly: tests only need a product and a delivered order line)."""

from decimal import Decimal

import factory

from catalog.models import Category, Product
from orders.choices import OrderStatus, PaymentMethod
from orders.models import Order, OrderItem
from reviews.choices import ReportReason, ReviewStatus
from reviews.models import Review, ReviewReport, ReviewVote
from users.tests.factories import UserFactory

_ADDRESS = {
    "full_name": "Ada Lovelace",
    "street": "1 Analytical Way",
    "street2": "",
    "city": "London",
    "state": "",
    "postal_code": "N1 1AA",
    "country": "GB",
    "phone_number": "",
}


class CategoryFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Category

    name = factory.Sequence(lambda n: f"Review category {n}")
    slug = factory.Sequence(lambda n: f"review-category-{n}")


class ProductFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Product

    name = factory.Sequence(lambda n: f"Reviewed product {n}")
    slug = factory.Sequence(lambda n: f"reviewed-product-{n}")
    sku = factory.Sequence(lambda n: f"REV-{n:05d}")
    price = Decimal("25.00")
    stock_quantity = 10
    category = factory.SubFactory(CategoryFactory)


class OrderFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Order

    user = factory.SubFactory(UserFactory)
    number = factory.Sequence(lambda n: f"NX-TEST-{n:06d}")
    status = OrderStatus.DELIVERED
    payment_method = PaymentMethod.CARD
    subtotal = Decimal("25.00")
    shipping_cost = Decimal("0.00")
    total = Decimal("25.00")
    currency = "USD"
    shipping_address = factory.LazyFunction(lambda: dict(_ADDRESS))
    billing_address = factory.LazyFunction(lambda: dict(_ADDRESS))


class OrderItemFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = OrderItem

    order = factory.SubFactory(OrderFactory)
    product = factory.SubFactory(ProductFactory)
    product_name = factory.LazyAttribute(lambda item: item.product.name)
    sku = factory.LazyAttribute(lambda item: item.product.sku)
    unit_price = Decimal("25.00")
    quantity = 1
    line_total = Decimal("25.00")


def purchase(user, product, status: str = OrderStatus.DELIVERED) -> OrderItem:
    """An order of ``user`` in ``status`` with one line for ``product``."""
    return OrderItemFactory(order=OrderFactory(user=user, status=status), product=product)


class ReviewFactory(factory.django.DjangoModelFactory):
    """A review row made directly (no aggregates): for list and permission tests."""

    class Meta:
        model = Review

    product = factory.SubFactory(ProductFactory)
    user = factory.SubFactory(UserFactory)
    rating = 4
    title = factory.Sequence(lambda n: f"Review {n}")
    comment = factory.Sequence(lambda n: f"Honest opinion number {n}.")
    status = ReviewStatus.APPROVED
    verified_purchase = True


class ReviewVoteFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = ReviewVote

    review = factory.SubFactory(ReviewFactory)
    user = factory.SubFactory(UserFactory)


class ReviewReportFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = ReviewReport

    review = factory.SubFactory(ReviewFactory)
    user = factory.SubFactory(UserFactory)
    reason = ReportReason.SPAM
