"""Domain errors of the orders app, each with a stable code and HTTP status."""

from rest_framework import status

from nexus.exceptions import DomainError


class CartEmpty(DomainError):
    status_code = status.HTTP_409_CONFLICT
    code = "cart_empty"
    title = "Cart is empty"
    default_detail = "Your cart is empty: add products before checking out."


class OrderTotalTooLarge(DomainError):
    """400: the cart's total at current prices is more than an order can hold."""

    status_code = status.HTTP_400_BAD_REQUEST
    code = "order_total_too_large"
    title = "Bad Request"
    default_detail = "This cart's total is larger than an order can hold (9999999999.99)."


class InvalidTransition(DomainError):
    status_code = status.HTTP_409_CONFLICT
    code = "invalid_transition"
    title = "Invalid transition"
    default_detail = "This change is not allowed in the order's current state."


# --------------------------------------------------------------------------- checkout (v1.1)


class _FieldDomainError(DomainError):
    """A 400 on one request field with this error's own code (in ``code`` and ``errors``)."""

    status_code = status.HTTP_400_BAD_REQUEST
    title = "Bad Request"
    field = ""

    def __init__(self, detail: str | None = None):
        message = detail or self.default_detail
        super().__init__(
            message, errors=[{"field": self.field, "code": self.code, "message": message}]
        )


class ShippingUnavailable(_FieldDomainError):
    code = "shipping_unavailable"
    field = "shipping_method"
    default_detail = "No shipping method serves this address."


class VoucherError(_FieldDomainError):
    field = "voucher_code"


class VoucherInvalid(VoucherError):
    code = "voucher_invalid"
    default_detail = "This voucher code is not valid."


class VoucherNotStarted(VoucherError):
    code = "voucher_not_started"
    default_detail = "This voucher is not valid yet."


class VoucherExpired(VoucherError):
    code = "voucher_expired"
    default_detail = "This voucher has expired."


class VoucherMinSubtotal(VoucherError):
    code = "voucher_min_subtotal"
    default_detail = "The cart does not reach this voucher's minimum subtotal."


class VoucherUsedUp(VoucherError):
    code = "voucher_used_up"
    default_detail = "This voucher has been used as often as it may be."


class VoucherAlreadyUsed(VoucherError):
    code = "voucher_already_used"
    default_detail = "You have already used this voucher."


class PaymentMethodUnavailable(DomainError):
    status_code = status.HTTP_400_BAD_REQUEST
    code = "payment_method_unavailable"
    title = "Payment method unavailable"
    default_detail = (
        "Card payments are not available in this shop right now. Choose another method."
    )
