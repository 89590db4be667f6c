"""factory-boy factories for reviews, votes and reports, and ``purchase`` for a delivered
order line (products and orders come from catalog's and orders' factories)."""

from decimal import Decimal

import factory

from catalog.tests import factories as catalog_factories
from orders.choices import OrderStatus
from orders.models import OrderItem
from orders.tests import factories as order_factories
from reviews.choices import ReportReason, ReviewStatus
from reviews.models import Review, ReviewReport, ReviewVote
from users.tests.factories import UserFactory

CategoryFactory = catalog_factories.CategoryFactory


class ProductFactory(catalog_factories.ProductFactory):
    price = Decimal("25.00")


def purchase(user, product, status: str = OrderStatus.DELIVERED) -> OrderItem:
    """An order of ``user`` in ``status`` with one line for ``product``."""
    order = order_factories.OrderFactory(user=user, status=status, item=None)
    return order_factories.OrderItemFactory(order=order, product=product)


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
