"""Domain errors of the catalog app."""

from typing import Any

from rest_framework import status

from nexus.exceptions import DomainError


class OutOfStock(DomainError):
    status_code = status.HTTP_409_CONFLICT
    code = "out_of_stock"
    title = "Not enough stock"
    default_detail = "Not enough stock."

    @classmethod
    def for_lines(cls, lines: list[dict[str, Any]]) -> "OutOfStock":
        """The 409 for short lines built by ``out_of_stock_line`` (detail: their messages)."""
        return cls(" ".join(line["message"] for line in lines), errors=lines)


def out_of_stock_line(
    *,
    field: str,
    product_id: int | None,
    name: str,
    requested: int,
    available: int,
    variant_id: int | None = None,
) -> dict[str, Any]:
    """One ``errors`` entry of an ``out_of_stock`` answer (cart lines and checkout alike);
    ``name`` names the variant ("Tee (Red / M)") when it has options."""
    return {
        "field": field,
        "code": "out_of_stock",
        "message": f"Only {available} of {name} left.",
        "product_id": product_id,
        "variant_id": variant_id,
        "requested": requested,
        "available": available,
    }


class CategoryNotEmpty(DomainError):
    status_code = status.HTTP_409_CONFLICT
    code = "category_not_empty"
    title = "Category not empty"
    default_detail = "This category still holds products or subcategories."


class ImageTooLarge(DomainError):
    status_code = status.HTTP_413_REQUEST_ENTITY_TOO_LARGE
    code = "image_too_large"
    title = "Image too large"
    default_detail = "The image is larger than the allowed size."


class VariantRequired(DomainError):
    """The product has several variants (or none active), so the request must name one."""

    status_code = status.HTTP_400_BAD_REQUEST
    code = "variant_required"
    title = "Variant required"
    default_detail = "This product has several variants: name one."

    def __init__(self, detail: str | None = None, *, field: str = "variant"):
        message = detail or self.default_detail
        super().__init__(
            message, errors=[{"field": field, "code": "variant_required", "message": message}]
        )


class VariantRequiredConflict(VariantRequired):
    """``products/{id}/stock/`` on a product with several variants (409)."""

    status_code = status.HTTP_409_CONFLICT


class DuplicateVariant(DomainError):
    status_code = status.HTTP_409_CONFLICT
    code = "duplicate_variant"
    title = "Duplicate variant"
    default_detail = "The product already has a variant with these option values."


class OptionInUse(DomainError):
    status_code = status.HTTP_409_CONFLICT
    code = "option_in_use"
    title = "Option in use"
    default_detail = "Variants use this option or value; change or delete them first."


class LastVariant(DomainError):
    status_code = status.HTTP_409_CONFLICT
    code = "last_variant"
    title = "Last variant"
    default_detail = "A product keeps at least one variant; deactivate it or delete the product."
