"""factory-boy factories for orders, and a checkout helper that places real orders
through the service (products and carts come from catalog's and cart's factories)."""

from decimal import Decimal

import factory

from cart.models import Cart
from cart.tests.factories import CartFactory, CartItemFactory
from catalog.models import Product
from catalog.tests import factories as catalog_factories
from orders import services
from orders.choices import PaymentMethod
from orders.models import Order, OrderItem
from users.tests.factories import AddressFactory, UserFactory

ADDRESS = {
    "full_name": "Ada Lovelace",
    "street": "12 St James's Square",
    "city": "London",
    "postal_code": "SW1Y 4JH",
    "country": "GB",
}


CategoryFactory = catalog_factories.CategoryFactory


class ProductFactory(catalog_factories.ProductFactory):
    price = Decimal("10.00")


class OrderFactory(factory.django.DjangoModelFactory):
    """A bare order row (no stock taken): for tests that need an order, not a checkout."""

    class Meta:
        model = Order
        skip_postgeneration_save = True

    user = factory.SubFactory(UserFactory)
    number = factory.Sequence(lambda n: f"NX-TEST-{n:06d}")
    payment_method = PaymentMethod.CARD
    subtotal = Decimal("10.00")
    shipping_cost = Decimal("9.99")
    total = Decimal("19.99")
    currency = "USD"
    shipping_address = factory.LazyFunction(lambda: dict(ADDRESS))
    billing_address = factory.LazyFunction(lambda: dict(ADDRESS))
    item = factory.RelatedFactory(
        "orders.tests.factories.OrderItemFactory", factory_related_name="order"
    )


class OrderItemFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = OrderItem

    order = factory.SubFactory(OrderFactory, item=None)
    product = factory.SubFactory(ProductFactory)
    variant = factory.LazyAttribute(lambda item: catalog_factories.default_variant(item.product))
    product_name = factory.LazyAttribute(lambda item: item.product.name)
    sku = factory.LazyAttribute(lambda item: item.product.sku)
    unit_price = factory.LazyAttribute(lambda item: item.product.price)
    quantity = 1
    line_total = factory.LazyAttribute(lambda item: item.unit_price * item.quantity)


def fill_cart(user, *lines: tuple[Product, int]) -> Cart:
    """Put ``(product, quantity)`` lines in the user's cart (created if needed)."""
    cart = Cart.objects.filter(user=user).first() or CartFactory(user=user)
    for product, quantity in lines:
        CartItemFactory(cart=cart, product=product, quantity=quantity)
    return cart


def place_order(user, *lines: tuple[Product, int], **kwargs):
    """A real order through checkout (defaults: one product, a body address, card)."""
    if not lines:
        lines = ((ProductFactory(), 1),)
    fill_cart(user, *lines)
    kwargs.setdefault("shipping_address", dict(ADDRESS))
    kwargs.setdefault("payment_method", PaymentMethod.CARD)
    return services.order_place(user=user, **kwargs)


__all__ = [
    "ADDRESS",
    "AddressFactory",
    "CartFactory",
    "CartItemFactory",
    "UserFactory",
    "fill_cart",
    "place_order",
]
