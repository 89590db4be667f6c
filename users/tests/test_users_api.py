"""Profile and address book: ownership, defaults, validation, mass assignment."""

import pytest

from nexus.testing import problem_codes
from users.models import Address, User
from users.tests.factories import AddressFactory, UserFactory

pytestmark = pytest.mark.django_db

PROFILE = "/api/v1/users/profile/"
ADDRESSES = "/api/v1/users/addresses/"

ADDRESS = {
    "full_name": "Ada Lovelace",
    "street": "12 St James's Square",
    "city": "London",
    "postal_code": "SW1Y 4JH",
    "country": "gb",
}


def test_profile_requires_login(api_client):
    assert problem_codes(api_client.get(PROFILE)) == (401, "not_authenticated")


def test_profile_get(user_client, user):
    body = user_client.get(PROFILE).json()
    assert body == {
        "id": user.id,
        "email": user.email,
        "username": user.username,
        "first_name": user.first_name,
        "last_name": user.last_name,
        "phone_number": "",
        "role": "customer",
        "date_joined": body["date_joined"],
    }


def test_profile_patch_updates_editable_fields_only(user_client, user):
    response = user_client.patch(
        PROFILE,
        {
            "first_name": "Grace",
            "phone_number": "+44 20 7946 0000",
            "email": "evil@example.com",
            "role": "admin",
            "is_staff": True,
            "is_superuser": True,
            "token_version": 99,
        },
    )
    assert response.status_code == 200
    user.refresh_from_db()
    assert user.first_name == "Grace"
    assert user.phone_number == "+44 20 7946 0000"
    assert user.email != "evil@example.com"
    assert not user.is_staff and not user.is_superuser
    assert user.token_version == 0
    assert response.json()["role"] == "customer"


def test_profile_put_requires_username_and_checks_uniqueness(user_client, other_user):
    taken = user_client.put(PROFILE, {"username": other_user.username.upper()})
    assert problem_codes(taken) == (400, "validation_error")
    ok = user_client.put(PROFILE, {"username": "brand_new", "first_name": "B"})
    assert ok.status_code == 200
    assert ok.json()["username"] == "brand_new"


def test_profile_username_keeps_the_format_rule(user_client):
    response = user_client.patch(PROFILE, {"username": "a b"})
    assert problem_codes(response) == (400, "validation_error")
    assert response.json()["errors"][0]["field"] == "username"


def test_profile_rejects_bad_phone(user_client):
    response = user_client.patch(PROFILE, {"phone_number": "call me maybe"})
    assert problem_codes(response) == (400, "validation_error")
    assert response.json()["errors"][0]["field"] == "phone_number"


def test_role_reflects_flags(db):
    assert UserFactory().role == "customer"
    assert UserFactory(is_staff=True).role == "staff"
    assert UserFactory(is_staff=True, is_superuser=True).role == "admin"


def test_address_crud(user_client, user):
    created = user_client.post(ADDRESSES, ADDRESS)
    assert created.status_code == 201, created.json()
    body = created.json()
    assert body["country"] == "GB"
    # The first address becomes the default for both.
    assert body["is_default_shipping"] and body["is_default_billing"]
    url = f"{ADDRESSES}{body['id']}/"
    assert user_client.get(url).json()["city"] == "London"
    assert user_client.patch(url, {"city": "Bath"}).json()["city"] == "Bath"
    assert user_client.put(url, {**ADDRESS, "city": "York"}).json()["city"] == "York"
    listing = user_client.get(ADDRESSES).json()
    assert listing["count"] == 1 and listing["results"][0]["id"] == body["id"]
    assert user_client.delete(url).status_code == 204
    assert not Address.objects.filter(user=user).exists()


def test_new_default_takes_the_flag_from_the_old_one(user_client, user):
    first = user_client.post(ADDRESSES, ADDRESS).json()
    second = user_client.post(
        ADDRESSES, {**ADDRESS, "city": "Leeds", "is_default_shipping": True}
    ).json()
    assert second["is_default_shipping"] and not second["is_default_billing"]
    assert user_client.get(f"{ADDRESSES}{first['id']}/").json()["is_default_shipping"] is False
    assert Address.objects.filter(user=user, is_default_shipping=True).count() == 1
    assert Address.objects.filter(user=user, is_default_billing=True).get().id == first["id"]


def test_database_enforces_one_default_per_kind(user):
    from django.db import IntegrityError, transaction

    AddressFactory(user=user, is_default_billing=True)
    with pytest.raises(IntegrityError), transaction.atomic():
        AddressFactory(user=user, is_default_billing=True)


def test_other_users_address_is_404_and_untouched(user_client, other_user):
    theirs = AddressFactory(user=other_user, city="Paris")
    url = f"{ADDRESSES}{theirs.id}/"
    assert problem_codes(user_client.get(url)) == (404, "not_found")
    assert user_client.patch(url, {"city": "Nice"}).status_code == 404
    assert user_client.delete(url).status_code == 404
    theirs.refresh_from_db()
    assert theirs.city == "Paris"
    assert user_client.get(ADDRESSES).json()["count"] == 0


@pytest.mark.parametrize(
    ("override", "field"),
    [
        ({"country": "XX"}, "country"),
        ({"city": ""}, "city"),
        ({"phone_number": "abc"}, "phone_number"),
    ],
)
def test_address_validation(user_client, override, field):
    response = user_client.post(ADDRESSES, {**ADDRESS, **override})
    assert problem_codes(response) == (400, "validation_error")
    assert response.json()["errors"][0]["field"] == field


def test_address_list_is_paginated(user_client, user):
    AddressFactory.create_batch(3, user=user)
    body = user_client.get(ADDRESSES, {"page_size": 2}).json()
    assert body["count"] == 3 and len(body["results"]) == 2 and body["next"]


def test_createsuperuser_noninteractive_needs_a_password(monkeypatch):
    from django.core.management import call_command

    monkeypatch.setenv("DJANGO_SUPERUSER_PASSWORD", "Chosen-by-operator-1")
    call_command("createsuperuser", interactive=False, email="root@example.com", username="root")
    admin = User.objects.get(email="root@example.com")
    assert admin.role == "admin" and admin.check_password("Chosen-by-operator-1")


def test_address_update_refuses_multipart_bodies(user, user_client):
    """Found by fuzzing: multipart was accepted, so form strings such as "0" passed for
    booleans the schema types as JSON booleans. Bodies are JSON only (API.md)."""
    address = AddressFactory(user=user)
    response = user_client.put(
        f"/api/v1/users/addresses/{address.id}/",
        {
            "full_name": "A",
            "street": "1 Road",
            "city": "X",
            "postal_code": "1",
            "country": "US",
            "is_default_billing": "0",
        },
        format="multipart",
    )
    assert problem_codes(response) == (415, "unsupported_media_type")


def test_schema_offers_json_bodies_only_for_users(api_client):
    schema = api_client.get("/api/v1/schema/", {"format": "json"}).json()
    for path, operations in schema["paths"].items():
        if not path.startswith(("/api/v1/users/", "/api/v1/auth/")):
            continue
        for operation in operations.values():
            content = operation.get("requestBody", {}).get("content", {})
            assert set(content) <= {"application/json"}, (path, set(content))
