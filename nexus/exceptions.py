"""The domain error base class. Kept free of DRF view imports so that any module (even
authentication classes loaded by DRF's settings) can raise domain errors."""

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


class ServiceUnavailable(DomainError):
    status_code = status.HTTP_503_SERVICE_UNAVAILABLE
    code = "service_unavailable"
    title = "Service unavailable"
    default_detail = "A backing service is unavailable. Try again shortly."


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
