"""Domain errors of the orders app, each with a stable code and HTTP status."""

from rest_framework import status

from nexus.exceptions import DomainError


class CartEmpty(DomainError):
    status_code = status.HTTP_409_CONFLICT
    code = "cart_empty"
    title = "Cart is empty"
    default_detail = "Your cart is empty: add products before checking out."


class InvalidTransition(DomainError):
    status_code = status.HTTP_409_CONFLICT
    code = "invalid_transition"
    title = "Invalid transition"
    default_detail = "This change is not allowed in the order's current state."


class InvalidIdempotencyKey(DomainError):
    status_code = status.HTTP_400_BAD_REQUEST
    code = "invalid_idempotency_key"
    title = "Invalid Idempotency-Key"
    default_detail = "The Idempotency-Key header must be 1 to 255 printable ASCII characters."


class IdempotencyKeyMismatch(DomainError):
    status_code = status.HTTP_422_UNPROCESSABLE_ENTITY
    code = "idempotency_key_mismatch"
    title = "Idempotency-Key reused"
    default_detail = (
        "This Idempotency-Key was already used with a different request. Use a new key."
    )


class IdempotencyKeyInUse(DomainError):
    status_code = status.HTTP_409_CONFLICT
    code = "idempotency_key_in_use"
    title = "Request in progress"
    default_detail = "A request with this Idempotency-Key is still being processed. Retry shortly."

    def __init__(self, detail: str | None = None):
        super().__init__(detail)
        self.headers = {"Retry-After": "1"}
