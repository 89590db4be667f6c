"""OpenAPI helpers: the problem+json component and an AutoSchema that documents the error
responses every operation can give, so the schema lists each status the API may answer."""

from django.contrib.auth.models import AnonymousUser
from django.test import RequestFactory
from drf_spectacular.openapi import AutoSchema
from rest_framework import serializers
from rest_framework.request import Request

from nexus.errors import PROBLEM_CONTENT_TYPE


class ProblemFieldErrorSerializer(serializers.Serializer):
    field = serializers.CharField(allow_null=True, help_text="Dotted path of the field, or null.")
    code = serializers.CharField()
    message = serializers.CharField()


class ProblemSerializer(serializers.Serializer):
    """RFC 9457 problem details, the body of every error response."""

    type = serializers.CharField(default="about:blank")
    title = serializers.CharField()
    status = serializers.IntegerField()
    code = serializers.CharField(help_text="Stable, machine-readable error code.")
    detail = serializers.CharField()
    errors = ProblemFieldErrorSerializer(many=True, required=False)


_BODY_METHODS = {"POST", "PUT", "PATCH"}
_DESCRIPTIONS = {
    "400": "Invalid input (problem+json with `errors` per field).",
    "401": "Missing, invalid, expired or revoked access token.",
    "403": "Authenticated but not allowed.",
    "404": "Not found, or not visible to the caller.",
    "409": "Conflicts with the current state (see `code`).",
    "413": "Request body too large.",
    "415": "Unsupported content type.",
    "422": "Unprocessable (see `code`).",
    "429": "Throttled; see the Retry-After header.",
    "503": "A backing service (the database) is unavailable.",
}


_EMPTY_STRING = {"type": "string", "maxLength": 0}


def _admit_empty_query_value(parameter: dict) -> None:
    """An optional query parameter sent empty (``?created_before=``, ``?page=``) means
    "not given" (django-filter and DRF's paginator ignore it); say so wherever the schema
    would otherwise call an empty value invalid (numbers, booleans, dates, enums)."""
    schema = parameter.get("schema")
    if parameter.get("in") != "query" or parameter.get("required") or not schema:
        return
    if schema.get("type") == "array" or "oneOf" in schema or "anyOf" in schema:
        return
    plain_string = schema.get("type") == "string" and not (
        {"format", "enum", "pattern", "minLength"} & set(schema)
    )
    if not plain_string:
        parameter["schema"] = {"oneOf": [schema, _EMPTY_STRING]}


class NexusAutoSchema(AutoSchema):
    """Adds problem+json error responses to every operation.

    A view can name further statuses per action with ``problem_statuses``, for example
    ``{"create": {409}}``, for domain errors such as ``out_of_stock``.
    """

    def _error_statuses(self) -> set[str]:
        codes = {"400", "401", "403", "404", "429", "503"}
        if self.method in _BODY_METHODS:
            codes |= {"413", "415"}
        extra = getattr(self.view, "problem_statuses", None) or {}
        action = getattr(self.view, "action", None) or self.method.lower()
        codes |= {str(code) for code in extra.get(action, ())}
        codes |= {str(code) for code in extra.get("*", ())}
        return codes

    def get_operation(self, *args, **kwargs):
        operation = super().get_operation(*args, **kwargs)
        for parameter in (operation or {}).get("parameters", []):
            _admit_empty_query_value(parameter)
        return operation

    def get_auth(self):
        """drf-spectacular marks an operation public (``{}`` in ``security``) only for
        AllowAny and IsAuthenticatedOrReadOnly. Custom permissions (``IsStaffOrReadOnly``)
        are asked directly: when every permission lets an anonymous request through, the
        token is optional, or the schema would call every anonymous read invalid."""
        auths = super().get_auth()
        if {} not in auths and self._anonymous_allowed():
            auths.append({})
        return auths

    def _anonymous_allowed(self) -> bool:
        request = Request(RequestFactory().generic(self.method, self.path))
        request.user = AnonymousUser()
        try:
            return all(p.has_permission(request, self.view) for p in self.view.get_permissions())
        except Exception:  # a permission that needs more than a bare request: not public
            return False

    def _get_response_bodies(self, direction="response"):
        responses = super()._get_response_bodies(direction)
        for code in sorted(self._error_statuses()):
            if code in responses:
                continue
            response = self._get_response_for_code(
                ProblemSerializer, code, media_types=[PROBLEM_CONTENT_TYPE], direction=direction
            )
            response["description"] = _DESCRIPTIONS.get(code, response.get("description", ""))
            responses[code] = response
        return responses
