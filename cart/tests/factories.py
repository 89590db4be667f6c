"""factory-boy factories for the cart tests, with small catalog factories of their own
(catalog's test factories live on another branch)."""

import secrets
from decimal import Decimal

import factory

from cart.models import Cart, CartItem
from catalog.models import Category, Product, ProductImage
from users.tests.factories import UserFactory


class CategoryFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Category

    name = factory.Sequence(lambda n: f"Cart category {n}")
    slug = factory.Sequence(lambda n: f"cart-category-{n}")


class ProductFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Product

    name = factory.Sequence(lambda n: f"Cart product {n}")
    slug = factory.Sequence(lambda n: f"cart-product-{n}")
    sku = factory.Sequence(lambda n: f"CART-{n:05d}")
    price = Decimal("10.00")
    stock_quantity = 50
    category = factory.SubFactory(CategoryFactory)


class ProductImageFactory(factory.django.DjangoModelFactory):
    """An image row pointing at a file name (no file is written; only the URL is read)."""

    class Meta:
        model = ProductImage

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
    class Meta:
        model = CartItem

    cart = factory.SubFactory(CartFactory)
    product = factory.SubFactory(ProductFactory)
    quantity = 1
    unit_price_at_add = factory.LazyAttribute(lambda item: item.product.price)
