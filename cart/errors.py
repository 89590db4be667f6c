"""Domain errors of the cart app. Stock shortages reuse catalog's ``OutOfStock`` (409
``out_of_stock``) so that the cart and checkout speak the same error."""

from decimal import Decimal

from rest_framework import status

from cart.selectors import variant_label
from catalog.errors import OutOfStock, out_of_stock_line
from catalog.models import ProductVariant
from nexus.exceptions import DomainError, FieldError


class ProductUnavailable(DomainError):
    status_code = status.HTTP_409_CONFLICT
    code = "product_unavailable"
    title = "Product unavailable"
    default_detail = "This product is no longer sold."

    def __init__(self, variant: ProductVariant, field: str = "product"):
        message = f"{variant_label(variant)} is no longer sold."
        super().__init__(
            message,
            errors=[{"field": field, "code": "product_unavailable", "message": message}],
        )


def out_of_stock(*, variant: ProductVariant, requested: int) -> OutOfStock:
    """The 409 for a line asking more than ``variant``'s current stock."""
    return OutOfStock.for_lines(
        [
            out_of_stock_line(
                field="quantity",
                product_id=variant.product_id,
                variant_id=variant.pk,
                name=variant_label(variant),
                requested=requested,
                available=variant.stock_quantity,
            )
        ]
    )


def product_not_found(field: str = "product") -> FieldError:
    return FieldError(field, "does_not_exist", f"No such {field}.")


def quantity_too_large(maximum: int) -> FieldError:
    return FieldError("quantity", "max_value", f"A cart line holds at most {maximum} of a product.")


class CartNotFound(DomainError):
    status_code = status.HTTP_404_NOT_FOUND
    code = "not_found"
    title = "Not Found"
    default_detail = "This cart no longer exists."


class LineTotalTooLarge(DomainError):
    """400: quantity x price would not fit an order line (12 digits, 2 decimals)."""

    status_code = status.HTTP_400_BAD_REQUEST
    code = "line_total_too_large"
    title = "Bad Request"
    default_detail = "This cart line's total is larger than an order can hold."

    def __init__(self, *, variant: ProductVariant, quantity: int, maximum: Decimal):
        message = (
            f"{quantity} x {variant.price} is more than the largest line total an order "
            f"can hold ({maximum})."
        )
        super().__init__(
            message,
            errors=[{"field": "quantity", "code": "line_total_too_large", "message": message}],
        )
