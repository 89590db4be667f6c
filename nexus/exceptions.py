"""The domain error base class, the field-level refusal and the plumbing's own errors
(Idempotency-Key). Kept free of DRF view imports so that any module (even authentication
classes loaded by DRF's settings) can raise domain errors."""

from typing import Any

from rest_framework import status


class DomainError(Exception):
    """A business rule said no. Subclasses set a stable ``code``, a ``title`` and a status."""

    status_code: int = status.HTTP_409_CONFLICT
    code: str = "conflict"
    title: str = "Conflict"
    default_detail: str = "The request conflicts with the current state of the resource."

    def __init__(
        self,
        detail: str | None = None,
        *,
        errors: list[dict[str, Any]] | None = None,
        extra: dict[str, Any] | None = None,
    ):
        self.detail = detail or self.default_detail
        self.errors = errors or []
        self.extra = extra or {}
        self.headers: dict[str, str] = {}
        super().__init__(self.detail)


class FieldError(DomainError):
    """A field-level refusal decided by a service, shaped like a validation error
    (400 ``validation_error`` with one entry in ``errors``)."""

    status_code = status.HTTP_400_BAD_REQUEST
    code = "validation_error"
    title = "Bad Request"

    def __init__(self, field: str, code: str, message: str):
        super().__init__(
            f"The request is invalid: {field}: {message}",
            errors=[{"field": field, "code": code, "message": message}],
        )


# --------------------------------------------------------------------------- idempotency
# Raised by nexus.idempotency (the Idempotency-Key header of unsafe POSTs).


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
