"""OpenAPI helpers: the problem+json component, an AutoSchema that documents the error
responses every operation can give (so the schema lists each status the API may answer),
and the schema precision that generated clients rely on, done here once for every app:

- response fields that are always present are ``required`` (DRF writes every field of a
  serializer; a serializer names the exceptions in ``response_optional_fields``);
- request fields with a default are not required;
- query parameters keep their real type (an empty value, which means "not given", is
  declared with ``allowEmptyValue`` instead of ``oneOf[T, ""]``) and the bounds their
  filter enforces (``min_value``/``max_value``; ids are 64-bit integers);
- every operation has a summary; public operations have ``security: []``;
- response headers (``X-Request-ID``, ``Retry-After``, ``Idempotent-Replayed``) and the
  problem extras are declared; examples for the main operations (nexus/openapi_examples.py).

``postprocess_schema`` (a drf-spectacular POSTPROCESSING_HOOK) does what needs the whole
document."""

from typing import Any

from django import forms
from django.contrib.auth.models import AnonymousUser
from django.test import RequestFactory
from drf_spectacular.openapi import AutoSchema
from drf_spectacular.utils import OpenApiResponse
from rest_framework import serializers
from rest_framework.request import Request

from nexus.errors import PROBLEM_CONTENT_TYPE
from nexus.filters import ID_MAX, ID_MIN


class ProblemFieldErrorSerializer(serializers.Serializer):
    field = serializers.CharField(allow_null=True, help_text="Dotted path of the field, or null.")
    code = serializers.CharField()
    message = serializers.CharField()
    product_id = serializers.IntegerField(
        required=False, help_text="Stock errors (`out_of_stock`): the product that is short."
    )
    requested = serializers.IntegerField(
        required=False, help_text="Stock errors: the quantity asked for."
    )
    available = serializers.IntegerField(
        required=False, help_text="Stock errors: the quantity in stock."
    )

    response_optional_fields = ("product_id", "requested", "available")


class ProblemSerializer(serializers.Serializer):
    """RFC 9457 problem details, the body of every error response."""

    type = serializers.CharField(default="about:blank")
    title = serializers.CharField()
    status = serializers.IntegerField()
    code = serializers.CharField(help_text="Stable, machine-readable error code.")
    detail = serializers.CharField()
    errors = ProblemFieldErrorSerializer(
        many=True, required=False, help_text="Validation and stock errors: one entry per problem."
    )
    retry_after = serializers.IntegerField(
        required=False,
        help_text="429: seconds to wait before retrying (the `Retry-After` header says the same).",
    )

    response_optional_fields = ("errors", "retry_after")


# The documented response of every 202/204 answer without a body.
NO_BODY = OpenApiResponse(description="No response body")

_BODY_METHODS = {"POST", "PUT", "PATCH"}
_DESCRIPTIONS = {
    "400": "Invalid input (problem+json with `errors` per field).",
    "401": "Missing, invalid, expired or revoked access token.",
    "403": "Authenticated but not allowed.",
    "404": "Not found, or not visible to the caller.",
    "406": "The `Accept` header asks for a type other than JSON.",
    "409": "Conflicts with the current state (see `code`).",
    "413": "Request body too large.",
    "415": "Unsupported content type.",
    "422": "Unprocessable (see `code`).",
    "429": "Throttled; see the Retry-After, RateLimit and RateLimit-Policy headers.",
    "503": "A backing service (the database) is unavailable.",
}


def _admit_empty_query_value(parameter: dict) -> None:
    """An optional query parameter sent empty (``?created_before=``, ``?page=``) means
    "not given" (django-filter and DRF's paginator ignore it). The schema keeps the real
    type (clients keep their enums and booleans) and says so with ``allowEmptyValue``."""
    schema = parameter.get("schema")
    if parameter.get("in") != "query" or parameter.get("required") or not schema:
        return
    if "oneOf" in schema or "anyOf" in schema:
        return
    if schema.get("type") == "array":
        # A comma-separated list (``explode: false``, django-filter's CSV filters such as
        # review ``ordering``) sent empty is "not given" too; a repeated one is not.
        if parameter.get("explode") is False:
            parameter["allowEmptyValue"] = True
        return
    plain_string = schema.get("type") == "string" and not (
        {"format", "enum", "pattern", "minLength"} & set(schema)
    )
    if not plain_string:
        parameter["allowEmptyValue"] = True


def _filter_bounds(parameter: dict, filterset_class) -> None:
    """The schema of a filter parameter says what its form field enforces: ``min_value``
    and ``max_value``, and integers for id filters (no fractions, 64-bit)."""
    filt = filterset_class.base_filters.get(parameter.get("name")) if filterset_class else None
    schema = parameter.get("schema")
    if filt is None or not schema or schema.get("type") not in ("number", "integer"):
        return
    field_class = getattr(filt, "field_class", None)
    # DecimalField and FloatField subclass IntegerField but take fractions (rating_min=0.5).
    if field_class is not None and issubclass(field_class, forms.DecimalField | forms.FloatField):
        schema["type"] = "number"
        schema.pop("format", None)
    elif field_class is not None and issubclass(field_class, forms.IntegerField):
        schema["type"] = "integer"
    for bound, key in (("min_value", "minimum"), ("max_value", "maximum")):
        value = filt.extra.get(bound)
        if value is not None:
            schema[key] = value


_STANDARD_ACTIONS = {
    "list": "List {plural}",
    "create": "Create {a} {name}",
    "retrieve": "Get {a} {name}",
    "update": "Replace {a} {name}",
    "partial_update": "Update {a} {name}",
    "destroy": "Delete {a} {name}",
}
_METHOD_VERBS = {
    "GET": "Get",
    "POST": "Submit",
    "PUT": "Replace",
    "PATCH": "Update",
    "DELETE": "Delete",
}


def _singular(word: str) -> str:
    if word.endswith("ies"):
        return word[:-3] + "y"
    if word.endswith("sses") or word.endswith("shes"):
        return word[:-2]
    if word.endswith("s") and not word.endswith("ss"):
        return word[:-1]
    return word


def summary_for(method: str, path: str, action: str | None) -> str:
    """A short summary from the route when no one wrote one: ``List products``,
    ``Get a product``; other routes: ``POST orders cancel``. Hand-written summaries of the
    existing operations are in nexus/openapi_examples.py (SUMMARIES)."""
    parts = [p for p in path.strip("/").split("/") if p]
    if parts[:2] == ["api", "v1"]:
        parts = parts[2:]
    literal = [p.replace("-", " ").replace("_", " ") for p in parts if not p.startswith("{")]
    if not literal:
        return method.title()
    ends_with_param = parts[-1].startswith("{")
    if action in _STANDARD_ACTIONS and (ends_with_param or action in ("list", "create")):
        plural = literal[-1]
        name = _singular(plural)
        a = "an" if name[:1] in "aeiou" else "a"
        text = _STANDARD_ACTIONS[action].format(plural=plural, name=name, a=a)
        return text[0].upper() + text[1:]
    return f"{method.upper()} {' '.join(literal)}"


# Response headers of every throttled operation (nexus/throttles.py, docs/SECURITY.md).
_RATELIMIT_HEADERS = {
    "RateLimit-Policy": {
        "schema": {"type": "string"},
        "description": "IETF draft-ietf-httpapi-ratelimit-headers: the limits that counted "
        'this request, one item per policy: `"<scope>";q=<requests>;w=<window seconds>`, '
        'e.g. `"anon";q=300;w=60`.',
    },
    "RateLimit": {
        "schema": {"type": "string"},
        "description": "What is left of each policy in its current fixed window: "
        '`"<scope>";r=<remaining>;t=<seconds until the window resets>`.',
    },
}
_VARY_HEADER = {
    "Vary": {
        "schema": {"type": "string"},
        "description": "Includes `Authorization`: the answer may depend on the token.",
    }
}
_PRIVATE_CACHE_HEADER = {
    "Cache-Control": {
        "schema": {"type": "string"},
        "description": "`no-store` on private responses (anything answered to a token, a "
        "cart token or on the auth, users, cart and orders paths) unless set otherwise; "
        "`public, max-age=60` on anonymous catalog reads.",
    }
}


class NexusAutoSchema(AutoSchema):
    """Adds problem+json error responses to every operation, and the headers every
    response may carry (rate limits, Vary, Cache-Control on private responses).

    A view can name further statuses per action with ``problem_statuses``, for example
    ``{"create": {409}}``, for domain errors such as ``out_of_stock``.
    """

    def _error_statuses(self) -> set[str]:
        codes = {"400", "401", "403", "404", "406", "429", "503"}
        if self.method in _BODY_METHODS:
            codes |= {"413", "415"}
        extra = getattr(self.view, "problem_statuses", None) or {}
        action = getattr(self.view, "action", None) or self.method.lower()
        codes |= {str(code) for code in extra.get(action, ())}
        codes |= {str(code) for code in extra.get("*", ())}
        return codes

    def _get_response_headers_for_code(self, status_code, direction="response"):
        headers = super()._get_response_headers_for_code(status_code, direction)
        if self.view.get_throttles():
            headers = {**_RATELIMIT_HEADERS, **headers}
        headers = {**_VARY_HEADER, **_PRIVATE_CACHE_HEADER, **headers}
        return headers

    def get_operation(self, *args, **kwargs):
        operation = super().get_operation(*args, **kwargs)
        filterset_class = getattr(self.view, "filterset_class", None)
        for parameter in (operation or {}).get("parameters", []):
            if parameter.get("in") == "query":
                _filter_bounds(parameter, filterset_class)
            _admit_empty_query_value(parameter)
        if operation is not None and getattr(self, "_token_optional", False):
            note = (
                "Public: no token needed. A valid access token is still honoured "
                "(staff see and may change more)."
            )
            description = operation.get("description", "")
            operation["description"] = f"{description}\n\n{note}" if description else note
        return operation

    def get_summary(self):
        from nexus.openapi_examples import SUMMARIES

        summary = super().get_summary()
        if summary:
            return summary
        written = SUMMARIES.get(self.get_operation_id())
        return written or summary_for(self.method, self.path, getattr(self.view, "action", None))

    def _map_basic_serializer(self, serializer, direction):
        """Responses: every field a serializer writes is present, so it is required
        (``response_optional_fields`` names those a serializer may leave out)."""
        result = super()._map_basic_serializer(serializer, direction)
        if direction == "response":
            optional = set(getattr(serializer, "response_optional_fields", ()))
            required = [name for name in result.get("properties", {}) if name not in optional]
            if required:
                result["required"] = required
            else:
                result.pop("required", None)
        return result

    def _map_serializer_field(self, field, direction, bypass_extensions=False):
        """Ids sent by clients (``PrimaryKeyRelatedField``) are positive 64-bit integers:
        0, negative or larger ids never name an object and are refused with a 400."""
        schema = super()._map_serializer_field(field, direction, bypass_extensions)
        if (
            direction == "request"
            and isinstance(field, serializers.PrimaryKeyRelatedField)
            and schema.get("type") == "integer"
        ):
            schema.setdefault("minimum", ID_MIN)
            schema.setdefault("maximum", ID_MAX)
        return schema

    def get_auth(self):
        """drf-spectacular marks an operation public (``{}`` in ``security``) only for
        AllowAny and IsAuthenticatedOrReadOnly. Custom permissions (``IsStaffOrReadOnly``)
        are asked directly: when every permission lets an anonymous request through, the
        token is optional, or the schema would call every anonymous read invalid."""
        auths = super().get_auth()
        if {} in auths or self._anonymous_allowed():
            # Public: no security requirement at all (``security: []``), so generated
            # clients call it without a token. A token is still honoured where it changes
            # the answer (staff see inactive products); the description says so.
            self._token_optional = any(auth for auth in auths)
            return []
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


# --------------------------------------------------------------------------- postprocessing

_HEADERS = {
    "X-Request-ID": {
        "description": "The request's id (the client's own `X-Request-ID` when sane, else a "
        "new one); every log line of the request carries it.",
        "schema": {"type": "string", "maxLength": 64, "pattern": "^[A-Za-z0-9._-]{1,64}$"},
    },
    "Retry-After": {
        "description": "Seconds to wait before trying again.",
        "schema": {"type": "integer", "minimum": 0},
    },
    "ETag": {
        "description": "Public catalog reads: a strong tag of this body. Send it back in "
        "`If-None-Match`; an unchanged answer is `304 Not Modified` without a body.",
        "schema": {"type": "string"},
    },
    "Idempotent-Replayed": {
        "description": "`true` when this is the stored answer to an earlier request with the "
        "same `Idempotency-Key` (nothing ran twice).",
        "schema": {"type": "string", "enum": ["true"]},
    },
}
_HEADER_REFS = {name: {"$ref": f"#/components/headers/{name}"} for name in _HEADERS}
_METHODS = ("get", "put", "post", "delete", "options", "head", "patch", "trace")


def _resolve(result: dict, schema: dict) -> dict:
    ref = schema.get("$ref", "")
    if ref.startswith("#/components/schemas/"):
        return result["components"]["schemas"].get(ref.rsplit("/", 1)[1], {})
    return schema


def _typed_nullable(result: dict, schema: dict) -> None:
    """OpenAPI 3.0 ``nullable`` needs a ``type`` beside it: a nullable reference to a
    string enum (``oneOf[Enum, NullEnum]``) becomes the inline enum plus ``null``."""
    if not schema.get("nullable") or "type" in schema:
        return
    variants = schema.get("oneOf") or schema.get("allOf") or []
    resolved = [_resolve(result, v) for v in variants]
    enums = [r for r in resolved if r.get("type") == "string" and "enum" in r]
    others = [r for r in resolved if r.get("type") != "string" and r.get("enum") != [None]]
    if len(enums) == 1 and not others:
        schema.pop("oneOf", None)
        schema.pop("allOf", None)
        schema["type"] = "string"
        schema["enum"] = [*enums[0]["enum"], None]
    elif resolved and all(r.get("type") == "object" for r in resolved):
        # A nullable nested serializer (allOf[$ref] + nullable): the object type beside it.
        schema["type"] = "object"


def _walk_schemas(result: dict, node: Any) -> None:
    if isinstance(node, dict):
        _typed_nullable(result, node)
        for value in node.values():
            _walk_schemas(result, value)
    elif isinstance(node, list):
        for value in node:
            _walk_schemas(result, value)


def _defaults_not_required(component: dict) -> None:
    properties = component.get("properties", {})
    required = [n for n in component.get("required", []) if "default" not in properties.get(n, {})]
    if required:
        component["required"] = required
    else:
        component.pop("required", None)


def _referenced(result: dict) -> set[str]:
    import json
    import re

    text = json.dumps(
        {k: v for k, v in result.items() if k != "components"}, default=str
    ) + json.dumps(
        {k: v for k, v in result.get("components", {}).items() if k != "schemas"}, default=str
    )
    names = set(re.findall(r"#/components/schemas/([A-Za-z0-9_.-]+)", text))
    schemas = result.get("components", {}).get("schemas", {})
    pending = list(names)
    while pending:  # follow references between components
        body = json.dumps(schemas.get(pending.pop(), {}), default=str)
        for name in re.findall(r"#/components/schemas/([A-Za-z0-9_.-]+)", body):
            if name not in names:
                names.add(name)
                pending.append(name)
    return names


def postprocess_schema(result, generator, request, public):
    """drf-spectacular hook: headers, security, request defaults, nullable enums, examples."""
    from nexus.openapi_examples import apply_examples

    components = result.setdefault("components", {})
    components.setdefault("headers", {}).update(_HEADERS)
    for name, component in components.get("schemas", {}).items():
        if name.endswith("Request"):
            _defaults_not_required(component)
    inlined_before = _referenced(result)
    _walk_schemas(result, components.get("schemas", {}))
    _walk_schemas(result, result.get("paths", {}))
    # Enum components that only the nullable references used are now unused: drop them.
    still = _referenced(result)
    for name in inlined_before - still:
        components["schemas"].pop(name, None)
    for operations in result.get("paths", {}).values():
        for method, operation in operations.items():
            if method not in _METHODS:
                continue
            operation.setdefault("security", [])
            idempotent = any(
                p.get("in") == "header" and p.get("name") == "Idempotency-Key"
                for p in operation.get("parameters", [])
            )
            for status, response in operation.get("responses", {}).items():
                headers = response.setdefault("headers", {})
                headers.setdefault("X-Request-ID", _HEADER_REFS["X-Request-ID"])
                if status in ("429", "503"):
                    headers.setdefault("Retry-After", _HEADER_REFS["Retry-After"])
                if idempotent and status.startswith("2"):
                    headers.setdefault("Idempotent-Replayed", _HEADER_REFS["Idempotent-Replayed"])
            if operation.get("operationId") in _CONDITIONAL_GET:
                _document_conditional_get(operation)
            apply_examples(operation)
    return result


# Operations served by nexus.middleware.ConditionalGetMiddleware (NEXUS_PUBLIC_CACHE_ROUTES).
_CONDITIONAL_GET = {"categories_list", "categories_retrieve", "products_list", "products_retrieve"}


def _document_conditional_get(operation: dict) -> None:
    responses = operation["responses"]
    if "200" in responses:
        responses["200"]["headers"].setdefault("ETag", _HEADER_REFS["ETag"])
    responses.setdefault(
        "304",
        {
            "description": "Not modified: the `If-None-Match` tag is still current (no body).",
            "headers": {
                "ETag": _HEADER_REFS["ETag"],
                "X-Request-ID": _HEADER_REFS["X-Request-ID"],
            },
        },
    )
    parameters = operation.setdefault("parameters", [])
    if not any(p.get("name") == "If-None-Match" for p in parameters):
        parameters.append(
            {
                "in": "header",
                "name": "If-None-Match",
                "required": False,
                "schema": {"type": "string"},
                "description": "The `ETag` of an earlier answer: 304 while it is current.",
            }
        )
