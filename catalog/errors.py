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
