"""Domain errors of the cart app. Stock shortages reuse catalog's ``OutOfStock`` (409
``out_of_stock``) so that the cart and checkout speak the same error."""

from rest_framework import status

from catalog.errors import OutOfStock
from catalog.models import Product
from nexus.exceptions import DomainError, FieldError


class ProductUnavailable(DomainError):
    status_code = status.HTTP_409_CONFLICT
    code = "product_unavailable"
    title = "Product unavailable"
    default_detail = "This product is no longer sold."

    def __init__(self, product: Product):
        message = f"{product.name} is no longer sold."
        super().__init__(
            message,
            errors=[{"field": "product", "code": "product_unavailable", "message": message}],
        )


def out_of_stock(*, product: Product, requested: int) -> OutOfStock:
    """The 409 for a line asking more than ``product``'s current stock."""
    available = product.stock_quantity
    message = f"Only {available} of {product.name} left."
    return OutOfStock(
        message,
        errors=[
            {
                "field": "quantity",
                "code": "out_of_stock",
                "message": message,
                "product_id": product.pk,
                "requested": requested,
                "available": available,
            }
        ],
    )


def product_not_found() -> FieldError:
    return FieldError("product", "does_not_exist", "No such product.")


def quantity_too_large(maximum: int) -> FieldError:
    return FieldError("quantity", "max_value", f"A cart line holds at most {maximum} of a product.")


class CartNotFound(DomainError):
    status_code = status.HTTP_404_NOT_FOUND
    code = "not_found"
    title = "Not Found"
    default_detail = "This cart no longer exists."
