"""Domain errors of the catalog app."""

from rest_framework import status

from nexus.exceptions import DomainError


class OutOfStock(DomainError):
    status_code = status.HTTP_409_CONFLICT
    code = "out_of_stock"
    title = "Not enough stock"
    default_detail = "Not enough stock."


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
