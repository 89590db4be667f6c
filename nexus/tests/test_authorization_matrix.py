"""Authorization matrix, generated from the URL conf (through drf-spectacular's endpoint
enumeration), so every new endpoint is covered without editing this file.

For every operation:
- anonymous: 401 wherever the view's permissions refuse an anonymous user; and an
  unsafe operation may only be open to anonymous callers if it is on ANONYMOUS_WRITES;
- customer: 403 on every operation whose permissions refuse a customer but admit staff;
- another customer: for every object endpoint whose model belongs to a user (found by
  following foreign keys to the user model), 404 on reads that are not public and on
  every write, and the object is unchanged in the database.

Objects are made with the apps' own factory-boy factories (``<app>/tests/factories.py``),
found by model: an owned model without a factory fails the test instead of being skipped.
"""

import importlib
import re
from dataclasses import dataclass

import factory
import pytest
from django.apps import apps
from django.conf import settings
from django.contrib.auth.models import AnonymousUser
from django.db import models
from django.forms.models import model_to_dict
from drf_spectacular.generators import SchemaGenerator
from rest_framework.request import Request
from rest_framework.test import APIRequestFactory

from users.tests.factories import UserFactory

pytestmark = pytest.mark.django_db

PROJECT_APPS = ["users", "catalog", "cart", "orders", "payments", "reviews"]
UNSAFE = {"POST", "PUT", "PATCH", "DELETE"}

# Unsafe operations a caller without a token may perform, by design (API.md): signing up
# and in, token refresh, password reset, the guest cart, and Stripe's webhook (its
# Stripe-Signature is the authentication).
ANONYMOUS_WRITES = [
    r"^/api/v1/auth/(register|login|token/refresh|password/reset|password/reset/confirm)/$",
    r"^/api/v1/cart/",
    # v1.1 guest checkout (issue 15): the guest's cart token or order token is the key.
    r"^/api/v1/orders/$",
    r"^/api/v1/checkout/preview/$",
    r"^/api/v1/orders/guest/\{guest_token\}/cancel/$",
    r"^/api/v1/orders/guest/\{guest_token\}/payments/$",
    r"^/api/v1/payments/stripe/webhook/$",
]


@dataclass(frozen=True)
class Operation:
    path: str
    method: str
    view: object
    needs_login: bool
    staff_only: bool

    def __str__(self) -> str:
        return f"{self.method} {self.path}"


def _allowed(view, method: str, user) -> bool:
    request = Request(getattr(APIRequestFactory(), method.lower())("/"))
    request.user = user
    view.request = request
    return all(permission.has_permission(request, view) for permission in view.get_permissions())


def _operations() -> list[Operation]:
    generator = SchemaGenerator()
    generator._initialise_endpoints()
    customer = UserFactory.build(is_staff=False)
    staff = UserFactory.build(is_staff=True)
    found = []
    for path, _regex, method, view in generator._get_paths_and_endpoints():
        if not path.startswith("/api/v1/") or path.startswith("/api/v1/schema/"):
            continue
        found.append(
            Operation(
                path=path,
                method=method,
                view=view,
                needs_login=not _allowed(view, method, AnonymousUser()),
                staff_only=not _allowed(view, method, customer) and _allowed(view, method, staff),
            )
        )
    return found


OPERATIONS = _operations()


def _model_of(view) -> type[models.Model] | None:
    queryset = getattr(view, "queryset", None)
    if queryset is not None:
        return queryset.model
    serializer_class = getattr(view, "serializer_class", None)
    meta = getattr(serializer_class, "Meta", None)
    return getattr(meta, "model", None)


def _owner_path(model: type[models.Model], depth: int = 3) -> str | None:
    """The lookup from ``model`` to its owning user, e.g. ``user`` or ``cart__user``."""
    user_model = apps.get_model(settings.AUTH_USER_MODEL)
    if model is user_model:
        return None
    frontier: list[tuple[type[models.Model], str]] = [(model, "")]
    for _ in range(depth):
        next_frontier = []
        for current, prefix in frontier:
            for field in current._meta.get_fields():
                if not (field.many_to_one or field.one_to_one) or not field.concrete:
                    continue
                lookup = f"{prefix}{field.name}"
                if field.related_model is user_model:
                    if field.name in {"user", "author", "owner"}:
                        return lookup
                    continue
                next_frontier.append((field.related_model, f"{lookup}__"))
        frontier = next_frontier
    return None


def _factories() -> dict[type[models.Model], type[factory.django.DjangoModelFactory]]:
    found: dict = {}
    for app in PROJECT_APPS:
        try:
            module = importlib.import_module(f"{app}.tests.factories")
        except ModuleNotFoundError:
            continue
        for value in vars(module).values():
            if (
                isinstance(value, type)
                and issubclass(value, factory.django.DjangoModelFactory)
                and value._meta.model is not None
            ):
                found.setdefault(value._meta.model, value)
    return found


def _fill(path: str, value) -> str:
    return re.sub(r"\{[^}]+\}", str(value), path)


def _call(client, operation: Operation, path: str):
    return getattr(client, operation.method.lower())(path, {}, format="json")


def _ids(operations):
    return [str(operation) for operation in operations]


@pytest.mark.parametrize("operation", OPERATIONS, ids=_ids(OPERATIONS))
def test_anonymous_is_401_where_a_login_is_needed(api_client, operation):
    anonymous_write_ok = any(re.match(pattern, operation.path) for pattern in ANONYMOUS_WRITES)
    if operation.method in UNSAFE and not anonymous_write_ok:
        assert operation.needs_login, f"{operation} lets anonymous callers write"
    if not operation.needs_login:
        return
    response = _call(api_client, operation, _fill(operation.path, 1))
    assert response.status_code == 401, response.content


STAFF_OPERATIONS = [operation for operation in OPERATIONS if operation.staff_only]


@pytest.mark.parametrize("operation", STAFF_OPERATIONS, ids=_ids(STAFF_OPERATIONS))
def test_customer_is_403_on_staff_operations(user_client, operation):
    response = _call(user_client, operation, _fill(operation.path, 1))
    assert response.status_code == 403, response.content


def _owned_object_operations() -> list[tuple[Operation, type[models.Model], str]]:
    found = []
    for operation in OPERATIONS:
        if "{" not in operation.path or operation.staff_only:
            continue
        model = _model_of(operation.view)
        owner = _owner_path(model) if model is not None else None
        if owner is not None:
            found.append((operation, model, owner))
    return found


OWNED = _owned_object_operations()


@pytest.mark.parametrize(("operation", "model", "owner"), OWNED, ids=_ids(o[0] for o in OWNED))
def test_another_customer_gets_404_and_changes_nothing(other_client, user, operation, model, owner):
    if operation.method == "GET" and not operation.needs_login:
        pytest.skip("public read: visible to everyone by design")
    factories = _factories()
    assert model in factories, f"no factory for {model.__name__}: add one to its tests/factories.py"
    obj = factories[model](**{owner: user})
    before = model_to_dict(obj)

    response = _call(other_client, operation, _fill(operation.path, obj.pk))

    assert response.status_code == 404, response.content
    obj.refresh_from_db()
    assert model_to_dict(obj) == before


def test_matrix_found_the_endpoints():
    paths = {operation.path for operation in OPERATIONS}
    assert "/api/v1/users/addresses/{id}/" in paths
    assert any(model.__name__ == "Address" for _, model, _ in OWNED)
