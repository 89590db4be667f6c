"""Writes of the catalog app. Stock only ever changes through the conditional updates
below (never read-modify-write), so staff adjustments and checkouts cannot race. Every
write invalidates the catalog cache once it commits (``catalog_changed``)."""

import io
import secrets
import uuid
import warnings
from decimal import Decimal
from typing import Any

from django.conf import settings
from django.core.files.base import ContentFile
from django.db import IntegrityError, connection, transaction
from django.db.models import F, Model, ProtectedError, RestrictedError
from django.utils.text import slugify
from PIL import Image

from catalog.cache import catalog_changed
from catalog.errors import CategoryNotEmpty, ImageTooLarge, OutOfStock
from catalog.models import Category, Product, ProductImage
from nexus.exceptions import FieldError

# --------------------------------------------------------------------------- slugs

_SLUG_ATTEMPTS = 5


def _slug_candidate(model: type[Model], name: str, prefix: str) -> str:
    """A slug for ``name`` not yet taken: ``base``, else ``base-2``, ``base-3``...

    A slug made of digits only gets ``prefix`` in front, so it can never be mistaken for
    an id in ``{id or slug}`` URLs.
    """
    max_length = model._meta.get_field("slug").max_length - 12
    base = slugify(name)[:max_length].strip("-") or prefix
    if base.isdigit():
        base = f"{prefix}-{base}"
    taken = set(model.objects.filter(slug__startswith=base).values_list("slug", flat=True))
    if base not in taken:
        return base
    number = 2
    while f"{base}-{number}" in taken:
        number += 1
    return f"{base}-{number}"


def _save_with_unique_slug(instance: Category | Product, prefix: str, on_conflict) -> None:
    """Insert ``instance`` with a generated slug; a concurrent insert that took the same
    slug makes us retry with a random suffix instead of failing with a 500.

    ``on_conflict(exc)`` is called for an IntegrityError that is not about the slug (it
    raises the right domain error, or returns to retry).
    """
    model = type(instance)
    instance.slug = _slug_candidate(model, instance.name, prefix)
    for _ in range(_SLUG_ATTEMPTS):
        try:
            with transaction.atomic():
                instance.save(force_insert=True)
            return
        except IntegrityError as exc:
            if not model.objects.filter(slug=instance.slug).exists():
                on_conflict(exc)
            instance.slug = f"{instance.slug[:200]}-{secrets.token_hex(3)}"
    raise FieldError("name", "slug_conflict", "Could not generate a unique slug; try again.")


# --------------------------------------------------------------------------- categories


def _check_parent(category: Category | None, parent: Category | None) -> None:
    if parent is None or category is None or category.pk is None:
        return
    node: Category | None = parent
    while node is not None:
        if node.pk == category.pk:
            raise FieldError(
                "parent", "invalid", "A category cannot be moved under itself or its children."
            )
        node = node.parent


@transaction.atomic
def category_create(
    *, name: str, description: str = "", parent: Category | None = None
) -> Category:
    """Create a category with a generated, unique and stable slug."""
    category = Category(name=name, description=description, parent=parent)

    def conflict(exc: IntegrityError) -> None:
        raise exc

    _save_with_unique_slug(category, "category", conflict)
    catalog_changed()
    return category


@transaction.atomic
def category_update(*, category: Category, data: dict[str, Any]) -> Category:
    """Rename, describe or move a category. The slug never changes; a category cannot
    become its own ancestor (FieldError)."""
    editable = {"name", "description", "parent"}
    changed = [field for field in data if field in editable]
    if "parent" in changed:
        _check_parent(category, data["parent"])
    for field in changed:
        setattr(category, field, data[field])
    category.save(update_fields=[*changed, "updated_at"])
    catalog_changed()
    return category


@transaction.atomic
def category_delete(*, category: Category) -> None:
    """Delete an empty category. Raises CategoryNotEmpty (409) while it holds products
    (active or not) or subcategories."""
    if Product.objects.filter(category=category).exists():
        raise CategoryNotEmpty("This category still holds products; move or delete them first.")
    if Category.objects.filter(parent=category).exists():
        raise CategoryNotEmpty("This category still has subcategories; move or delete them first.")
    try:
        with transaction.atomic():
            category.delete()
    except (ProtectedError, RestrictedError, IntegrityError) as exc:
        # A product or subcategory appeared since the checks above.
        raise CategoryNotEmpty() from exc
    catalog_changed()


# --------------------------------------------------------------------------- products

_PRODUCT_FIELDS = (
    "name",
    "sku",
    "brand",
    "description",
    "price",
    "category",
    "is_active",
    "is_featured",
)


def _sku_conflict(sku: str, exclude_pk: int | None = None) -> FieldError | None:
    queryset = Product.objects.filter(sku=sku)
    if exclude_pk is not None:
        queryset = queryset.exclude(pk=exclude_pk)
    if queryset.exists():
        return FieldError("sku", "unique", "A product with this SKU already exists.")
    return None


@transaction.atomic
def product_create(*, data: dict[str, Any]) -> Product:
    """Create a product with a generated, unique and stable slug.

    Raises FieldError for a taken SKU (checked first, and again if a concurrent insert
    won the race).
    """
    error = _sku_conflict(data["sku"])
    if error:
        raise error
    product = Product(
        **{field: data[field] for field in _PRODUCT_FIELDS if field in data},
        stock_quantity=data.get("stock_quantity", 0),
    )

    def conflict(exc: IntegrityError) -> None:
        raise _sku_conflict(product.sku) or exc

    _save_with_unique_slug(product, "product", conflict)
    catalog_changed()
    return product


@transaction.atomic
def product_update(*, product: Product, data: dict[str, Any]) -> Product:
    """Change a product's fields. The slug stays. ``stock_quantity``, when given, is set
    by its own single UPDATE, and the other fields are saved with ``update_fields``, so an
    edit never writes back a stock level read before a concurrent checkout changed it."""
    changed = [field for field in _PRODUCT_FIELDS if field in data]
    if "sku" in changed:
        error = _sku_conflict(data["sku"], exclude_pk=product.pk)
        if error:
            raise error
    for field in changed:
        setattr(product, field, data[field])
    try:
        with transaction.atomic():
            product.save(update_fields=[*changed, "updated_at"])
    except IntegrityError as exc:
        raise (_sku_conflict(product.sku, exclude_pk=product.pk) or exc) from exc
    if "stock_quantity" in data:
        Product.objects.filter(pk=product.pk).update(stock_quantity=data["stock_quantity"])
        product.stock_quantity = data["stock_quantity"]
    catalog_changed()
    return product


def _delete_files(names: list[str]) -> None:
    """Delete stored files no image row refers to any more (seeded images share files)."""
    from django.core.files.storage import default_storage

    for name in names:
        if name and not ProductImage.objects.filter(image=name).exists():
            default_storage.delete(name)


@transaction.atomic
def product_delete(*, product: Product) -> bool:
    """Delete a product, or deactivate it when something still refers to it.

    Order lines refer to their product with PROTECT: deleting it would lose order history,
    so the delete is tried in a savepoint and, if any reference refuses it (Django's
    ProtectedError/RestrictedError, or the database's own foreign keys, checked at once
    rather than at commit), the product is deactivated instead. Returns True when the row
    was deleted, False when it was deactivated.
    """
    image_names = list(product.images.values_list("image", flat=True))
    try:
        with transaction.atomic():
            product.delete()
            if connection.vendor == "postgresql":
                # Django's foreign keys are DEFERRABLE INITIALLY DEFERRED on PostgreSQL:
                # make any violation fire inside this savepoint, not at commit.
                connection.check_constraints()
    except (ProtectedError, RestrictedError, IntegrityError):
        Product.objects.filter(pk=product.pk).update(is_active=False)
        product.is_active = False
        catalog_changed()
        return False
    transaction.on_commit(lambda: _delete_files(image_names))
    catalog_changed()
    return True


@transaction.atomic
def products_set_active(*, product_ids: list[int], is_active: bool) -> int:
    """Activate or deactivate many products at once (admin bulk actions). Returns the
    number of rows changed."""
    from django.utils import timezone

    changed = (
        Product.objects.filter(pk__in=product_ids)
        .exclude(is_active=is_active)
        .update(is_active=is_active, updated_at=timezone.now())
    )
    catalog_changed()
    return changed


def product_rating_set(
    *, product_id: int, average_rating: Decimal, review_count: int, histogram: dict[str, int]
) -> None:
    """Store a product's approved-review aggregates (called by the reviews app inside its
    own transaction, so the aggregates change atomically with the review)."""
    Product.objects.filter(pk=product_id).update(
        average_rating=average_rating, review_count=review_count, rating_histogram=histogram
    )
    catalog_changed()


# --------------------------------------------------------------------------- stock


@transaction.atomic
def stock_reserve(*, quantities: dict[int, int]) -> None:
    """Take ``quantities`` ({product_id: qty}) out of stock, all or nothing.

    Rows are updated in primary-key order so concurrent reservations cannot deadlock;
    each update only applies while enough stock remains. Raises OutOfStock listing every
    short line (``errors`` with ``product_id``, ``requested``, ``available``); nothing changes then.
    """
    short: list[dict] = []
    for product_id in sorted(quantities):
        quantity = quantities[product_id]
        updated = Product.objects.filter(
            pk=product_id, is_active=True, stock_quantity__gte=quantity
        ).update(stock_quantity=F("stock_quantity") - quantity)
        if not updated:
            product = (
                Product.objects.filter(pk=product_id)
                .values("name", "stock_quantity", "is_active")
                .first()
            )
            available = product["stock_quantity"] if product and product["is_active"] else 0
            name = product["name"] if product else f"product {product_id}"
            short.append(
                {
                    "field": f"product.{product_id}",
                    "code": "out_of_stock",
                    "message": f"Only {available} of {name} left.",
                    "product_id": product_id,
                    "requested": quantity,
                    "available": available,
                }
            )
    if short:
        detail = " ".join(line["message"] for line in short)
        raise OutOfStock(detail, errors=short)
    catalog_changed()


@transaction.atomic
def stock_release(*, quantities: dict[int, int]) -> None:
    """Put ``quantities`` ({product_id: qty}) back into stock (cancellations)."""
    for product_id in sorted(quantities):
        Product.objects.filter(pk=product_id).update(
            stock_quantity=F("stock_quantity") + quantities[product_id]
        )
    catalog_changed()


@transaction.atomic
def stock_adjust(*, product_id: int, delta: int) -> int:
    """Staff stock correction: add ``delta`` (negative to remove) in one conditional
    UPDATE, so it composes with concurrent checkouts instead of overwriting them.

    Raises OutOfStock (409) when removing more than is left. Returns the new level.
    """
    updated = Product.objects.filter(pk=product_id, stock_quantity__gte=max(0, -delta)).update(
        stock_quantity=F("stock_quantity") + delta
    )
    level = Product.objects.filter(pk=product_id).values_list("stock_quantity", flat=True).first()
    if not updated:
        raise OutOfStock(
            f"Cannot remove {-delta}: only {level or 0} in stock.",
            errors=[
                {
                    "field": "delta",
                    "code": "out_of_stock",
                    "message": f"Only {level or 0} in stock.",
                }
            ],
        )
    catalog_changed()
    return int(level)


# --------------------------------------------------------------------------- images

_IMAGE_FORMATS = {"JPEG": "jpg", "PNG": "png", "WEBP": "webp", "GIF": "gif"}


def _decode_image(data: bytes) -> str:
    """Decode the whole image (not just its header) and return its file extension.

    Raises FieldError for anything Pillow cannot decode, for formats other than JPEG,
    PNG, WebP and GIF, and for decompression bombs.
    """
    invalid = FieldError("image", "invalid_image", "Upload a valid JPEG, PNG, WebP or GIF image.")
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("error", Image.DecompressionBombWarning)
            with Image.open(io.BytesIO(data)) as probe:
                probe.verify()
            with Image.open(io.BytesIO(data)) as image:
                image.load()
                image_format = image.format
    except Exception as exc:  # Pillow raises many types (and the bomb warning, made an error)
        raise invalid from exc
    if image_format not in _IMAGE_FORMATS:
        raise invalid
    return _IMAGE_FORMATS[image_format]


@transaction.atomic
def product_image_add(
    *, product: Product, image, alt_text: str = "", is_primary: bool = False
) -> ProductImage:
    """Attach an uploaded image to ``product``.

    Rules: at most ``NEXUS_MAX_IMAGE_BYTES`` (ImageTooLarge, 413); it must decode as an
    image (FieldError); one primary image per product — a new primary demotes the old
    one, and a product's first image is primary. The product row is locked so that
    concurrent uploads cannot both become primary. The file is stored under a random name
    (never the client's).
    """
    limit = getattr(settings, "NEXUS_MAX_IMAGE_BYTES", 5 * 1024 * 1024)
    if image.size > limit:
        raise ImageTooLarge(f"The image is {image.size} bytes; the limit is {limit} bytes.")
    data = image.read()
    extension = _decode_image(data)
    Product.objects.select_for_update().filter(pk=product.pk).values_list("pk").first()
    has_primary = ProductImage.objects.filter(product=product, is_primary=True).exists()
    if is_primary and has_primary:
        ProductImage.objects.filter(product=product, is_primary=True).update(is_primary=False)
    record = ProductImage(
        product=product, alt_text=alt_text, is_primary=is_primary or not has_primary
    )
    record.image.save(f"{uuid.uuid4().hex}.{extension}", ContentFile(data), save=False)
    try:
        record.save()
    except Exception:
        record.image.storage.delete(record.image.name)
        raise
    catalog_changed()
    return record


@transaction.atomic
def product_image_delete(*, image: ProductImage) -> None:
    """Remove an image (and its file, after commit). Deleting the primary image promotes
    the product's next image."""
    Product.objects.select_for_update().filter(pk=image.product_id).values_list("pk").first()
    name = image.image.name
    was_primary = image.is_primary
    product_id = image.product_id
    image.delete()
    if was_primary:
        successor = ProductImage.objects.filter(product_id=product_id).order_by("id").first()
        if successor is not None:
            ProductImage.objects.filter(pk=successor.pk).update(is_primary=True)
    transaction.on_commit(lambda: _delete_files([name]))
    catalog_changed()
