"""factory-boy factories for payments (orders come from orders' factories)."""

from decimal import Decimal

import factory

from orders.tests.factories import OrderFactory
from payments.choices import PaymentState, Provider
from payments.models import Payment


class PaymentFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Payment

    order = factory.SubFactory(OrderFactory)
    provider = Provider.STRIPE
    status = PaymentState.PENDING
    amount = factory.LazyAttribute(lambda payment: payment.order.total)
    currency = factory.LazyAttribute(lambda payment: payment.order.currency)
    provider_reference = factory.Sequence(lambda n: f"pi_test_{n:06d}")
    client_secret = factory.LazyAttribute(lambda payment: f"{payment.provider_reference}_secret_x")
    amount_refunded = Decimal("0.00")
