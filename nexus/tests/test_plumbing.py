"""Shared plumbing: problem+json errors, health checks, docs pages and security headers."""

import re

import pytest
from django.core.cache import cache

from nexus.testing import problem_codes

pytestmark = pytest.mark.django_db


def test_health_is_ok(api_client):
    response = api_client.get("/health/")
    assert response.status_code == 200 and response.json() == {"status": "ok"}


def test_readiness_reports_database_and_cache(api_client):
    response = api_client.get("/health/ready/")
    assert response.status_code == 200
    assert response.json() == {"status": "ok", "checks": {"database": "ok", "cache": "ok"}}


def test_readiness_is_degraded_but_up_without_cache(api_client, monkeypatch):
    monkeypatch.setattr(cache, "get", lambda *a, **k: None)
    response = api_client.get("/health/ready/")
    assert response.status_code == 200
    assert response.json()["status"] == "degraded"


def test_unknown_url_is_problem_404(api_client):
    assert problem_codes(api_client.get("/api/v1/does-not-exist/")) == (404, "not_found")


def test_wrong_method_is_problem_405(api_client):
    assert problem_codes(api_client.get("/api/v1/auth/login/")) == (405, "method_not_allowed")


def test_malformed_json_is_problem_400(api_client):
    response = api_client.post(
        "/api/v1/auth/login/", data="{not json", content_type="application/json"
    )
    assert problem_codes(response) == (400, "parse_error")


def test_unsupported_media_type_is_problem_415(api_client):
    response = api_client.post("/api/v1/auth/login/", data="email=x", content_type="text/plain")
    assert problem_codes(response) == (415, "unsupported_media_type")


def test_api_responses_carry_strict_csp_and_request_id(api_client):
    response = api_client.get("/health/")
    assert "default-src 'none'" in response["Content-Security-Policy"]
    assert response["X-Content-Type-Options"] == "nosniff"
    assert len(response["X-Request-ID"]) >= 16


def test_request_id_is_propagated_when_sane(api_client):
    assert api_client.get("/health/", HTTP_X_REQUEST_ID="abc-123")["X-Request-ID"] == "abc-123"
    assert api_client.get("/health/", HTTP_X_REQUEST_ID="bad id\n")["X-Request-ID"] != "bad id\n"


def test_a_new_request_id_is_128_random_bits_in_hex(api_client):
    ids = {api_client.get("/health/")["X-Request-ID"] for _ in range(20)}
    assert len(ids) == 20
    assert all(re.fullmatch(r"[0-9a-f]{32}", request_id) for request_id in ids)


def test_schema_is_served(api_client):
    response = api_client.get("/api/v1/schema/", HTTP_ACCEPT="application/vnd.oai.openapi+json")
    assert response.status_code == 200
    paths = response.json()["paths"]
    assert "/api/v1/auth/login/" in paths
    login_responses = paths["/api/v1/auth/login/"]["post"]["responses"]
    assert "application/problem+json" in login_responses["400"]["content"]


@pytest.mark.parametrize("page", ["/api/v1/schema/swagger-ui/", "/api/v1/schema/redoc/"])
def test_docs_pages_use_local_assets_under_csp(client, page):
    response = client.get(page)
    assert response.status_code == 200
    policy = response["Content-Security-Policy"]
    assert "script-src 'self'" in policy
    assert "unsafe-eval" not in policy
    html = response.content.decode()
    assert "cdn." not in html and "googleapis" not in html
    assert "/static/drf_spectacular_sidecar/" in html


def test_swagger_init_script_is_a_separate_file(client):
    response = client.get("/api/v1/schema/swagger-ui/", {"script": ""})
    assert response.status_code == 200
    assert response["Content-Type"].startswith("application/javascript")


def test_admin_login_page_renders_with_admin_csp(client):
    response = client.get("/admin/login/")
    assert response.status_code == 200
    assert "style-src 'self'" in response["Content-Security-Policy"]


def test_nul_byte_in_query_is_problem_400(api_client):
    assert problem_codes(api_client.get("/api/v1/users/profile/?x=%00")) == (400, "bad_request")


def test_nul_byte_in_path_is_problem_400(api_client):
    assert problem_codes(api_client.get("/api/v1/users/addresses/%00/")) == (400, "bad_request")


def test_oversized_body_is_problem_413(api_client, settings):
    settings.NEXUS_MAX_REQUEST_BYTES = 100
    response = api_client.post(
        "/api/v1/auth/login/", {"email": "a@example.com", "password": "x" * 200}
    )
    assert problem_codes(response) == (413, "payload_too_large")


def test_database_unavailable_is_problem_503(user_client, monkeypatch):
    from django.db import OperationalError

    from users import views

    def broken(**kwargs):
        raise OperationalError("connection refused")

    monkeypatch.setattr(views.services, "user_update_profile", broken)
    response = user_client.patch("/api/v1/users/profile/", {"first_name": "X"})
    assert problem_codes(response) == (503, "service_unavailable")
    assert response["Retry-After"]


def test_string_fields_refuse_other_json_types(user_client):
    response = user_client.patch("/api/v1/users/profile/", {"last_name": 0}, format="json")
    assert problem_codes(response) == (400, "validation_error")
    assert response.json()["errors"][0]["field"] == "last_name"


@pytest.mark.parametrize("quantity", ["2", "", True])
def test_integer_fields_refuse_other_json_types(user_client, quantity):
    from catalog.tests.factories import ProductFactory

    variant = ProductFactory(stock_quantity=5).variants.get()
    body = {"variant": variant.pk, "quantity": quantity}
    response = user_client.post("/api/v1/cart/", body, format="json")
    assert problem_codes(response) == (400, "validation_error")
    assert response.json()["errors"][0]["field"] == "quantity"
    body["quantity"] = 2
    assert user_client.post("/api/v1/cart/", body, format="json").status_code == 201


@pytest.mark.parametrize("size", ["null", "0", "-3", "abc"])
def test_invalid_page_size_is_problem_400(user_client, size):
    response = user_client.get("/api/v1/users/addresses/", {"page_size": size})
    assert problem_codes(response) == (400, "validation_error")


def test_page_size_above_maximum_is_capped(user, user_client):
    from users.tests.factories import AddressFactory

    AddressFactory.create_batch(3, user=user)
    body = user_client.get("/api/v1/users/addresses/", {"page_size": 1000}).json()
    assert len(body["results"]) == 3


def test_email_failure_does_not_fail_the_request(api_client, user, settings):
    settings.EMAIL_BACKEND = "django.core.mail.backends.smtp.EmailBackend"
    settings.EMAIL_HOST = "127.0.0.1"
    settings.EMAIL_PORT = 9  # discard port: nothing listens, the connection is refused
    response = api_client.post("/api/v1/auth/password/reset/", {"email": user.email})
    assert response.status_code == 202


def test_schema_page_size_matches_the_capping(api_client):
    """Found by fuzzing: the schema said ``maximum: 100`` while 101 is answered with 200."""
    schema = api_client.get("/api/v1/schema/", {"format": "json"}).json()
    parameters = [
        parameter
        for operation in schema["paths"]["/api/v1/users/addresses/"].values()
        for parameter in operation.get("parameters", [])
        if parameter["name"] == "page_size"
    ]
    assert parameters
    for parameter in parameters:
        integer = parameter["schema"]
        assert integer["type"] == "integer" and integer["minimum"] == 1
        assert parameter["allowEmptyValue"] is True  # ?page_size= means "the default"
        assert "maximum" not in integer
        assert "capped" in parameter["description"]


@pytest.mark.parametrize("value", [0, 1, "true", "on", None])
def test_boolean_fields_refuse_other_json_types(user, user_client, value):
    """Found by fuzzing: ``"is_default_billing": 0`` was taken for false."""
    from users.tests.factories import AddressFactory

    address = AddressFactory(user=user)
    response = user_client.patch(
        f"/api/v1/users/addresses/{address.id}/", {"is_default_billing": value}, format="json"
    )
    assert problem_codes(response) == (400, "validation_error")
    assert response.json()["errors"][0]["field"] == "is_default_billing"


def test_boolean_fields_take_json_booleans(user, user_client):
    from users.tests.factories import AddressFactory

    address = AddressFactory(user=user, is_default_billing=False)
    response = user_client.patch(
        f"/api/v1/users/addresses/{address.id}/", {"is_default_billing": True}, format="json"
    )
    assert response.status_code == 200
    assert response.json()["is_default_billing"] is True


def test_schema_marks_reads_public_under_custom_read_only_permissions():
    """Found by fuzzing: a view guarded by a custom "staff or read-only" permission was
    documented as requiring a token for GET, so every anonymous read broke the schema."""
    from django.urls import path
    from drf_spectacular.generators import SchemaGenerator
    from rest_framework.permissions import SAFE_METHODS, BasePermission
    from rest_framework.response import Response
    from rest_framework.views import APIView

    class StaffOrReadOnly(BasePermission):
        def has_permission(self, request, view):
            return request.method in SAFE_METHODS or bool(request.user and request.user.is_staff)

    class ThingView(APIView):
        permission_classes = [StaffOrReadOnly]

        def get(self, request):
            return Response({})

        def post(self, request):
            return Response({})

    schema = SchemaGenerator(patterns=[path("api/v1/things/", ThingView.as_view())]).get_schema(
        request=None, public=True
    )
    operations = schema["paths"]["/api/v1/things/"]
    # Public: no requirement at all (generated clients call it without a token).
    assert operations["get"]["security"] == []
    assert operations["post"]["security"] and {} not in operations["post"]["security"]


@pytest.mark.parametrize(
    ("raw", "valid", "value"),
    [
        ("true", True, True),
        ("False", True, False),
        ("1", True, True),
        ("", True, None),
        ("null", False, None),
        ("banana", False, None),
    ],
)
@pytest.mark.parametrize("flavour", ["django_filters", "rest_framework"])
def test_boolean_filters_refuse_values_they_do_not_understand(flavour, raw, valid, value):
    """Found by fuzzing: ``?is_featured=null`` was ignored (everything listed, 200), with
    both django_filters.BooleanFilter and its rest_framework variant."""
    import django_filters
    from django_filters import rest_framework

    from users.models import User

    filters = rest_framework if flavour == "rest_framework" else django_filters

    class UserFilter(filters.FilterSet):
        staff = filters.BooleanFilter(field_name="is_staff")

    filterset = UserFilter(data={"staff": raw}, queryset=User.objects.all())
    assert filterset.is_valid() is valid
    if valid:
        assert filterset.form.cleaned_data["staff"] is value


def test_options_on_a_view_without_serializer_is_not_a_500():
    """Found by fuzzing: OPTIONS on a viewset action with no serializer_class answered 500."""
    from rest_framework import generics
    from rest_framework.permissions import AllowAny
    from rest_framework.response import Response
    from rest_framework.test import APIRequestFactory

    class NoSerializerView(generics.GenericAPIView):
        authentication_classes: list = []
        permission_classes = [AllowAny]

        def post(self, request):
            return Response(status=204)

    response = NoSerializerView.as_view()(APIRequestFactory().options("/x/"))
    assert response.status_code == 200
    assert "actions" not in response.data


def test_empty_query_values_are_documented_and_ignored(user, user_client):
    """Found by fuzzing: ``?created_before=`` (empty) is "not given" for django-filter and
    the paginator, while the schema called it an invalid date-time; empty values are now
    documented for every constrained optional query parameter with ``allowEmptyValue``
    (issue 19: the real type stays, no ``oneOf[T, ""]``)."""
    schema = user_client.get("/api/v1/schema/", {"format": "json"}).json()
    operation = schema["paths"]["/api/v1/users/addresses/"]["get"]
    page = next(p for p in operation["parameters"] if p["name"] == "page")
    assert page["schema"] == {"type": "integer", "minimum": 1}
    assert page["allowEmptyValue"] is True
    response = user_client.get("/api/v1/users/addresses/", {"page": "", "page_size": ""})
    assert response.status_code == 200


def test_default_throttles_count_each_caller_once(api_client, user_client, monkeypatch):
    from rest_framework.throttling import AnonRateThrottle

    from nexus.throttles import SignedInRateThrottle

    monkeypatch.setattr(AnonRateThrottle, "THROTTLE_RATES", {"anon": "2/min"})
    monkeypatch.setattr(SignedInRateThrottle, "THROTTLE_RATES", {"user": "3/min"})
    for _ in range(2):
        assert api_client.get("/api/v1/products/").status_code == 200
    assert problem_codes(api_client.get("/api/v1/products/")) == (429, "throttled")
    # The signed-in caller from the same address is counted by account, not by address.
    for _ in range(3):
        assert user_client.get("/api/v1/users/profile/").status_code == 200
    assert problem_codes(user_client.get("/api/v1/users/profile/")) == (429, "throttled")
