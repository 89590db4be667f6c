"""The demo data command: a category tree, products with shared placeholder images,
demo accounts with given or random passwords (never a fixed one), idempotent re-runs."""

import pytest
from django.contrib.auth import get_user_model
from django.core.management import call_command

from catalog.models import Category, Product, ProductImage

pytestmark = pytest.mark.django_db


def test_seed_database_creates_a_usable_catalogue_and_accounts(capsys, api_client):
    call_command(
        "seed_database", "--products", "40", "--customers", "3", "--seed", "1",
        "--staff-password", "Given-Staff-Pass-1",
    )  # fmt: skip
    printed = capsys.readouterr().out

    assert Category.objects.filter(parent__isnull=True).exists()
    assert Category.objects.filter(parent__isnull=False).exists()
    assert Product.objects.count() == 40
    assert ProductImage.objects.filter(is_primary=True).count() == 40
    assert ProductImage.objects.values("image").distinct().count() <= 6
    users = get_user_model().objects
    staff = users.get(email="staff@nexus.example")
    customer = users.get(email="customer@nexus.example")
    assert staff.is_staff and staff.check_password("Given-Staff-Pass-1")
    assert not customer.is_staff
    generated = printed.split("customer@nexus.example  password: ")[1].split()[0]
    assert len(generated) >= 12 and customer.check_password(generated)
    assert not any(u.has_usable_password() for u in users.filter(email__contains="@customers."))
    listed = api_client.get("/api/v1/products/", {"page_size": 100}).json()
    assert listed["count"] == Product.objects.filter(is_active=True).count()
    assert all(item["images"][0]["url"].endswith(".png") for item in listed["results"])

    call_command("seed_database", "--products", "50", "--no-users")
    call_command("seed_database", "--products", "500", "--if-empty")

    assert Product.objects.count() == 50
    assert users.filter(email="staff@nexus.example").count() == 1


def test_seed_progress_plain_lines_off_a_terminal_and_a_bar_on_one(capsys, monkeypatch):
    # Issue 19: progress with an ETA on long runs; plain lines in logs and pipes.
    call_command("seed_database", "--products", "30", "--batch-size", "10", "--no-users")
    lines = [line for line in capsys.readouterr().out.splitlines() if "products " in line]
    progress = [line for line in lines if line.strip().startswith("products ")]
    assert [line.split()[1].rstrip(",") for line in progress] == ["10/30", "20/30", "30/30"]
    assert all("ETA" in line and "\r" not in line for line in progress)

    from django.core.management.base import OutputWrapper

    monkeypatch.setattr(OutputWrapper, "isatty", lambda self: True)
    Product.objects.all().delete()
    call_command("seed_database", "--products", "20", "--batch-size", "10", "--no-users")
    captured = capsys.readouterr()
    bar = captured.out + captured.err
    assert "20/20" in bar and "products/s" in bar and "\r" in bar  # tqdm redraws in place
