"""RFC 9457 problem details for every error (the domain error classes live in
``nexus.exceptions``).

Every error leaves the API as ``application/problem+json`` with ``type``, ``title``,
``status``, ``code``, ``detail`` and (for validation) ``errors``: DRF exceptions through
``problem_exception_handler``, Django's own 400/403/404/500 pages through ``handler400`` ...
``handler500``.

Nothing here touches transactions: there is no ``ATOMIC_REQUESTS``; each service owns its
``transaction.atomic`` block, so by the time an error reaches this handler the service's
work has already been rolled back.
"""

import logging
from http import HTTPStatus
from typing import Any

from django.conf import settings
from django.core.exceptions import PermissionDenied, RequestDataTooBig
from django.core.exceptions import ValidationError as DjangoValidationError
from django.db import DatabaseError, DataError, InterfaceError, OperationalError
from django.http import Http404, JsonResponse
from rest_framework import exceptions
from rest_framework.response import Response
from rest_framework.views import exception_handler

from nexus.exceptions import DomainError

logger = logging.getLogger("nexus.errors")

PROBLEM_CONTENT_TYPE = "application/problem+json"


def problem(
    status_code: int,
    code: str,
    detail: str,
    *,
    title: str | None = None,
    errors: list[dict[str, Any]] | None = None,
    extra: dict[str, Any] | None = None,
) -> dict[str, Any]:
    body: dict[str, Any] = {
        "type": "about:blank",
        "title": title or HTTPStatus(status_code).phrase,
        "status": status_code,
        "code": code,
        "detail": detail,
    }
    if errors:
        body["errors"] = errors
    if extra:
        body.update(extra)
    return body


def _flatten(detail: Any, prefix: str = "") -> list[dict[str, str]]:
    """Turn DRF's nested ``ValidationError.detail`` into ``[{field, code, message}]``."""
    out: list[dict[str, str]] = []
    if isinstance(detail, dict):
        for key, value in detail.items():
            name = "" if key in ("non_field_errors", "__all__") and not prefix else str(key)
            out.extend(_flatten(value, f"{prefix}.{name}" if prefix and name else prefix or name))
    elif isinstance(detail, list):
        for index, value in enumerate(detail):
            if isinstance(value, dict | list):
                out.extend(_flatten(value, f"{prefix}.{index}" if prefix else str(index)))
            else:
                out.extend(_flatten(value, prefix))
    else:
        code = getattr(detail, "code", None) or "invalid"
        out.append({"field": prefix or None, "code": str(code), "message": str(detail)})
    return out


def _detail_text(exc: exceptions.APIException) -> str:
    detail = exc.detail
    if isinstance(detail, str):
        return str(detail)
    if isinstance(detail, dict) and "detail" in detail and isinstance(detail["detail"], str):
        return str(detail["detail"])
    return str(exc.default_detail)


def _code_for(exc: exceptions.APIException) -> str:
    if isinstance(exc, exceptions.ValidationError):
        return "validation_error"
    detail = exc.detail
    if isinstance(detail, dict) and isinstance(detail.get("code"), str):
        return detail["code"]
    codes = exc.get_codes()
    if isinstance(codes, str):
        return codes
    return exc.default_code


def problem_response(body: dict[str, Any], headers: dict[str, str] | None = None) -> Response:
    response = Response(body, status=body["status"], headers=headers)
    response.content_type = PROBLEM_CONTENT_TYPE
    return response


def problem_exception_handler(exc: Exception, context: dict[str, Any]) -> Response | None:
    """DRF exception handler: every error becomes problem+json (see the module docstring)."""
    if isinstance(exc, DomainError):
        return problem_response(
            problem(
                exc.status_code,
                exc.code,
                exc.detail,
                title=exc.title,
                errors=exc.errors,
                extra=exc.extra,
            ),
            headers=exc.headers or None,
        )
    if isinstance(exc, RequestDataTooBig):
        return problem_response(problem(413, "payload_too_large", "The request body is too large."))
    if isinstance(exc, DjangoValidationError):
        exc = exceptions.ValidationError(
            exc.message_dict if hasattr(exc, "error_dict") else exc.messages
        )
    if isinstance(exc, DataError):
        # A value the database cannot hold (out-of-range number, invalid text) got past
        # validation: the client sent it, so it is a 400, and nothing was written.
        logger.warning("value refused by the database: %s", exc)
        return problem_response(
            problem(400, "invalid_value", "A value in the request is out of range or invalid.")
        )
    if isinstance(exc, OperationalError | InterfaceError):
        logger.warning("database unavailable: %s", exc)
        return problem_response(
            problem(503, "service_unavailable", "The database is unavailable. Try again shortly."),
            headers={"Retry-After": "5"},
        )
    if isinstance(exc, Http404):
        exc = exceptions.NotFound()
    elif isinstance(exc, PermissionDenied):
        exc = exceptions.PermissionDenied()

    response = exception_handler(exc, context)
    if response is None:
        if isinstance(exc, DatabaseError):
            logger.exception("database error", exc_info=exc)
        else:
            logger.exception("unhandled error", exc_info=exc)
        return problem_response(
            problem(500, "server_error", "An unexpected error occurred. It has been logged.")
        )

    assert isinstance(exc, exceptions.APIException)
    errors = _flatten(exc.detail) if isinstance(exc, exceptions.ValidationError) else None
    if isinstance(exc, exceptions.ValidationError):
        detail = "The request is invalid: " + "; ".join(
            f"{e['field']}: {e['message']}" if e["field"] else e["message"] for e in errors or []
        )
    else:
        detail = _detail_text(exc)
    body = problem(response.status_code, _code_for(exc), detail, errors=errors)
    if isinstance(exc, exceptions.Throttled) and exc.wait is not None:
        body["retry_after"] = int(exc.wait)
    response.data = body
    response.content_type = PROBLEM_CONTENT_TYPE
    return response


def _plain_problem(status_code: int, code: str, detail: str) -> JsonResponse:
    return JsonResponse(
        problem(status_code, code, detail), status=status_code, content_type=PROBLEM_CONTENT_TYPE
    )


def handler404(request, exception=None):
    return _plain_problem(404, "not_found", "No resource at this address.")


def handler500(request):
    return _plain_problem(500, "server_error", "An unexpected error occurred. It has been logged.")


def handler400(request, exception=None):
    return _plain_problem(400, "bad_request", "The request could not be understood.")


def handler403(request, exception=None):
    return _plain_problem(403, "permission_denied", "You may not do this.")


def api_fallback(request, rest: str = ""):
    """Every ``/api/...`` address no route matched, in any method and also with DEBUG on
    (where Django would answer an HTML page): problem+json, never a silent method change.

    Without its trailing slash an existing endpoint answers **308 Permanent Redirect** to
    the slashed address: a client that follows it repeats the same method and body (a 301
    made clients turn ``POST /api/v1/cart`` into a GET, and the item was never added).
    Anything else is 404 ``not_found``.
    """
    from django.urls import Resolver404, resolve

    path = request.path_info
    if settings.APPEND_SLASH and not path.endswith("/"):
        try:
            match = resolve(path + "/")
        except Resolver404:
            match = None
        if match is not None and match.func is not api_fallback:
            location = request.get_full_path(force_append_slash=True)
            response = _plain_problem(
                308,
                "trailing_slash_required",
                f"This address ends with a slash: {location} (repeat the request there).",
            )
            response["Location"] = location
            return response
    return handler404(request)


api_fallback.csrf_exempt = True
