"""factory-boy factories for carts and cart lines (catalog's factories, with the stock
and price these tests assume)."""

import secrets
from decimal import Decimal

import factory

from cart.models import Cart, CartItem
from catalog.tests import factories as catalog_factories
from users.tests.factories import UserFactory

CategoryFactory = catalog_factories.CategoryFactory


class ProductFactory(catalog_factories.ProductFactory):
    price = Decimal("10.00")
    stock_quantity = 50


class ProductImageFactory(catalog_factories.ProductImageFactory):
    """An image row pointing at a file name (no file is written; only the URL is read)."""

    product = factory.SubFactory(ProductFactory)
    image = factory.Sequence(lambda n: f"products/test/{n}.png")
    is_primary = True


class CartFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Cart

    user = factory.SubFactory(UserFactory)
    token = factory.LazyFunction(lambda: secrets.token_urlsafe(32))


class GuestCartFactory(CartFactory):
    user = None


class CartItemFactory(factory.django.DjangoModelFactory):
    """A cart line; ``product=`` picks that product's default variant."""

    class Meta:
        model = CartItem

    class Params:
        product = factory.SubFactory(ProductFactory)

    cart = factory.SubFactory(CartFactory)
    variant = factory.LazyAttribute(lambda item: catalog_factories.default_variant(item.product))
    quantity = 1
    unit_price_at_add = factory.LazyAttribute(lambda item: item.variant.price)
