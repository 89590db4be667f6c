"""The staff role (issue 19): a group made by a migration lets staff process orders,
moderate reviews and edit the catalog in the admin; demo accounts can be reset."""

import pytest
from django.contrib.auth.models import Group
from django.core.management import CommandError, call_command
from django.test import Client

from catalog.tests.factories import ProductFactory
from orders.tests.factories import place_order
from reviews.models import Review
from users.models import User
from users.roles import STAFF_GROUP, STAFF_PERMISSIONS
from users.tests.factories import UserFactory

pytestmark = pytest.mark.django_db


def _admin_client(user) -> Client:
    client = Client()
    client.force_login(user)
    return client


def test_the_migration_made_the_group_with_every_listed_permission():
    group = Group.objects.get(name=STAFF_GROUP)
    permissions = group.permissions.select_related("content_type")
    granted = {(p.content_type.app_label, p.codename) for p in permissions}
    wanted = {
        (app, f"{action}_{model}")
        for app, models in STAFF_PERMISSIONS.items()
        for model, actions in models.items()
        for action in actions
    }
    assert granted == wanted


def test_an_account_created_as_staff_gets_the_role():
    staff = User.objects.create_user(email="ops@example.com", password="x", is_staff=True)
    customer = User.objects.create_user(email="buyer@example.com", password="x")
    admin = User.objects.create_superuser(email="root@example.com", password="x")
    assert list(staff.groups.values_list("name", flat=True)) == [STAFF_GROUP]
    assert not customer.groups.exists() and not admin.groups.exists()


def test_staff_can_process_orders_moderate_reviews_and_edit_the_catalog(user):
    staff = User.objects.create_user(email="ops@example.com", password="x", is_staff=True)
    client = _admin_client(staff)
    product = ProductFactory()
    order = place_order(user, (product, 1))
    index = client.get("/admin/")
    assert index.status_code == 200
    assert b"have permission to view or edit anything" not in index.content
    for url in (
        "/admin/orders/order/",
        f"/admin/orders/order/{order.pk}/change/",
        "/admin/reviews/review/",
        "/admin/catalog/product/",
        "/admin/catalog/product/add/",
        f"/admin/catalog/product/{product.pk}/change/",
        "/admin/catalog/category/add/",
    ):
        assert client.get(url).status_code == 200, url
    # What the role does not cover stays closed.
    assert client.get("/admin/auth/group/").status_code == 403
    assert client.get("/admin/users/user/add/").status_code == 403


def test_staff_without_the_role_may_do_nothing():
    staff = UserFactory(is_staff=True)
    staff.groups.clear()
    assert _admin_client(staff).get("/admin/orders/order/").status_code == 403


def test_staff_moderation_action_through_the_admin(user):
    from reviews.tests.factories import ReviewFactory

    staff = User.objects.create_user(email="mod@example.com", password="x", is_staff=True)
    review = ReviewFactory(status="pending")
    response = _admin_client(staff).post(
        "/admin/reviews/review/",
        {"action": "approve", "_selected_action": [review.pk]},
    )
    assert response.status_code == 302
    assert Review.objects.get(pk=review.pk).status == "approved"


def test_demo_accounts_reset_prints_working_passwords(settings, capsys):
    settings.DEBUG = True
    staff = User.objects.create_user(email="staff@nexus.example", password="old", is_staff=True)
    staff.groups.clear()
    customer = User.objects.create_user(email="customer@nexus.example", password="old")
    customer.is_active = False
    customer.save()
    call_command("demo_accounts", "--reset")
    out = capsys.readouterr().out
    passwords = {
        line.split()[2]: line.split("password: ")[1].split()[0]
        for line in out.splitlines()
        if line.startswith("Demo ")
    }
    staff.refresh_from_db()
    customer.refresh_from_db()
    assert staff.check_password(passwords["staff@nexus.example"])
    assert customer.check_password(passwords["customer@nexus.example"]) and customer.is_active
    assert list(staff.groups.values_list("name", flat=True)) == [STAFF_GROUP]
    # Without --reset: listed, passwords unchanged.
    call_command("demo_accounts")
    assert "password unchanged" in capsys.readouterr().out
    staff.refresh_from_db()
    assert staff.check_password(passwords["staff@nexus.example"])


def test_demo_accounts_refuses_outside_debug(settings):
    settings.DEBUG = False
    with pytest.raises(CommandError):
        call_command("demo_accounts", "--reset")


def test_demo_accounts_says_when_they_are_missing(settings, capsys):
    settings.DEBUG = True
    call_command("demo_accounts", "--reset")
    assert "missing" in capsys.readouterr().out
