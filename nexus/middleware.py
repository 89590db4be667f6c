"""Request-scoped middleware: a request id for logs and responses, a guard that refuses
malformed requests before any view sees them, and the CSP policy chosen by path."""

import re
import uuid
from urllib.parse import unquote_to_bytes

from csp.middleware import CSPMiddleware, PolicyParts
from django.conf import settings
from django.http import JsonResponse

from nexus.errors import PROBLEM_CONTENT_TYPE, problem
from nexus.requestid import _local  # shared with the log filter

_VALID_REQUEST_ID = re.compile(r"^[A-Za-z0-9._-]{1,64}$")


class RequestIDMiddleware:
    """Take a sane ``X-Request-ID`` from the proxy or make one; echo it on the response."""

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        incoming = request.META.get("HTTP_X_REQUEST_ID", "")
        request_id = incoming if _VALID_REQUEST_ID.match(incoming) else uuid.uuid4().hex
        request.request_id = request_id
        _local.request_id = request_id
        try:
            response = self.get_response(request)
        finally:
            _local.request_id = "-"
        response["X-Request-ID"] = request_id
        return response


class RequestGuardMiddleware:
    """Refuse, as problem+json, what no view should ever see.

    - NUL bytes in the path or query string (PostgreSQL cannot store them; every lookup
      would otherwise fail deep inside the database driver): 400.
    - A declared body larger than ``NEXUS_MAX_REQUEST_BYTES``: 413. DRF's JSON parser reads
      the stream without Django's DATA_UPLOAD_MAX_MEMORY_SIZE check, so the cap lives here.
    """

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        raw_path = request.META.get("PATH_INFO", "")
        query = request.META.get("QUERY_STRING", "")
        if "\x00" in raw_path or b"\x00" in unquote_to_bytes(query) or "\x00" in request.path:
            return _problem(400, "bad_request", "NUL bytes are not allowed in URLs.")
        try:
            length = int(request.META.get("CONTENT_LENGTH") or 0)
        except ValueError:
            return _problem(400, "bad_request", "Content-Length is not a number.")
        if length > settings.NEXUS_MAX_REQUEST_BYTES:
            return _problem(
                413,
                "payload_too_large",
                f"The request body is larger than {settings.NEXUS_MAX_REQUEST_BYTES} bytes.",
            )
        return self.get_response(request)


def _problem(status_code: int, code: str, detail: str) -> JsonResponse:
    return JsonResponse(
        problem(status_code, code, detail), status=status_code, content_type=PROBLEM_CONTENT_TYPE
    )


class NexusCSPMiddleware(CSPMiddleware):
    """The strict API policy everywhere, except the admin which needs its own assets."""

    def get_policy_parts(self, request, response, report_only: bool = False) -> PolicyParts:
        parts = super().get_policy_parts(request, response, report_only)
        if not report_only and parts.config is None and request.path_info.startswith("/admin/"):
            parts.config = settings.NEXUS_CSP_ADMIN
        return parts
