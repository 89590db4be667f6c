"""Request-scoped middleware: a request id for logs and responses, and the CSP policy
chosen by path (API, admin)."""

import logging
import re
import threading
import uuid

from csp.middleware import CSPMiddleware, PolicyParts
from django.conf import settings

_local = threading.local()
_VALID_REQUEST_ID = re.compile(r"^[A-Za-z0-9._-]{1,64}$")


def current_request_id() -> str:
    return getattr(_local, "request_id", "-")


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


class RequestIDLogFilter(logging.Filter):
    def filter(self, record: logging.LogRecord) -> bool:
        record.request_id = current_request_id()
        return True


class NexusCSPMiddleware(CSPMiddleware):
    """The strict API policy everywhere, except the admin which needs its own assets."""

    def get_policy_parts(self, request, response, report_only: bool = False) -> PolicyParts:
        parts = super().get_policy_parts(request, response, report_only)
        if not report_only and parts.config is None and request.path_info.startswith("/admin/"):
            parts.config = settings.NEXUS_CSP_ADMIN
        return parts
