"""factory-boy factories for categories, products (each with one default variant that
carries the factory's ``sku``, ``price`` and ``stock_quantity``, as a v1 product has),
variants and images. They write rows directly, so they keep the denormalised values the
services maintain in step: a product adds itself to its category's ``product_count``, a
variant refreshes its product's ``price`` and ``active_price_spread``."""

import io
from decimal import Decimal

import factory
from django.core.files.uploadedfile import SimpleUploadedFile
from PIL import Image

from catalog import services
from catalog.models import (
    Category,
    Product,
    ProductAttribute,
    ProductImage,
    ProductOption,
    ProductOptionValue,
    ProductVariant,
)


class CategoryFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Category

    name = factory.Sequence(lambda n: f"Category {n}")
    slug = factory.Sequence(lambda n: f"category-{n}")


class ProductFactory(factory.django.DjangoModelFactory):
    """A product with one default variant (``variants=False`` for none at all)."""

    class Meta:
        model = Product
        skip_postgeneration_save = True

    class Params:
        stock_quantity = 10
        variants = True

    name = factory.Sequence(lambda n: f"Product {n}")
    slug = factory.Sequence(lambda n: f"product-{n}")
    sku = factory.Sequence(lambda n: f"SKU-{n:06d}")
    brand = "Acme"
    description = "A fine product."
    price = Decimal("19.99")
    category = factory.SubFactory(CategoryFactory)
    # No variant yet: no active price range (the variant factory sets it).
    active_price_spread = None

    default_variant = factory.Maybe(
        "variants",
        yes_declaration=factory.RelatedFactory(
            "catalog.tests.factories.ProductVariantFactory",
            factory_related_name="product",
            sku=factory.SelfAttribute("..sku"),
            price=factory.SelfAttribute("..price"),
            stock_quantity=factory.SelfAttribute("..stock_quantity"),
        ),
    )

    @classmethod
    def _create(cls, model_class, *args, **kwargs):
        product = super()._create(model_class, *args, **kwargs)
        if product.is_active:
            services.category_product_counts_add(deltas={product.category_id: 1})
        return product


def default_variant(product: Product) -> ProductVariant:
    """The product's first variant (the default one of a factory product)."""
    return ProductVariant.objects.filter(product=product).order_by("id").first()


def variant_set(product: Product, **fields) -> None:
    """Change the product's default variant behind the services' back (as a concurrent
    writer would), keeping the product's denormalised price range in step."""
    ProductVariant.objects.filter(pk=default_variant(product).pk).update(**fields)
    services._product_prices_refresh(product.pk)


class ProductVariantFactory(factory.django.DjangoModelFactory):
    """A variant of a product; give ``options`` as ``{"Size": "M"}`` to link (creating
    when missing) option values."""

    class Meta:
        model = ProductVariant
        skip_postgeneration_save = True

    product = factory.SubFactory(ProductFactory, variants=False)
    sku = factory.Sequence(lambda n: f"VAR-{n:06d}")
    price = Decimal("19.99")
    stock_quantity = 10

    @classmethod
    def _create(cls, model_class, *args, **kwargs):
        variant = super()._create(model_class, *args, **kwargs)
        services._product_prices_refresh(variant.product_id)
        return variant

    @factory.post_generation
    def options(variant, create, extracted, **kwargs):
        if not create or not extracted:
            return
        values = []
        for position, (name, text) in enumerate(extracted.items()):
            option, _ = ProductOption.objects.get_or_create(
                product=variant.product, name=name, defaults={"position": position}
            )
            value, _ = ProductOptionValue.objects.get_or_create(option=option, value=text)
            values.append(value)
        variant.option_values.set(values)
        values.sort(key=lambda v: (v.option.position, v.option.pk))
        variant.combination_key = ",".join(str(pk) for pk in sorted(v.pk for v in values))
        variant.name = " / ".join(v.value for v in values)
        variant.save(update_fields=["combination_key", "name"])


def png_bytes(size: tuple[int, int] = (4, 4), color: str = "red", fmt: str = "PNG") -> bytes:
    buffer = io.BytesIO()
    Image.new("RGB", size, color).save(buffer, format=fmt)
    return buffer.getvalue()


def png_upload(name: str = "photo.png", **kwargs) -> SimpleUploadedFile:
    return SimpleUploadedFile(name, png_bytes(**kwargs), content_type="image/png")


class ProductImageFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = ProductImage

    product = factory.SubFactory(ProductFactory)
    image = factory.django.FileField(filename="test.png", data=factory.LazyFunction(png_bytes))
    alt_text = "A photo"
    is_primary = False


class ProductAttributeFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = ProductAttribute

    product = factory.SubFactory(ProductFactory)
    name = "Material"
    value = factory.Sequence(lambda n: f"Material {n}")
