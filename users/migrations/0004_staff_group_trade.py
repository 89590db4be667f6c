"""The "Shop staff" group also manages what v1.1 added: variants, options and attributes,
shipping methods, tax rates and vouchers; it sees payments, refunds and the outbox, refunds
payments and retries failed outbox messages (webhook endpoints stay admin-only)."""

from django.contrib.auth.management import create_permissions
from django.db import migrations

GROUP = "Shop staff"
PERMISSIONS = {
    "catalog": {
        "productoption": ("add", "change", "delete", "view"),
        "productoptionvalue": ("add", "change", "delete", "view"),
        "productvariant": ("add", "change", "delete", "view"),
        "productattribute": ("add", "change", "delete", "view"),
    },
    "orders": {
        "shippingmethod": ("add", "change", "delete", "view"),
        "taxrate": ("add", "change", "delete", "view"),
        "voucher": ("add", "change", "delete", "view"),
        "voucherredemption": ("view",),
    },
    "payments": {"payment": ("change", "view"), "refund": ("view",), "stripeevent": ("view",)},
    "nexus": {"outboxmessage": ("change", "view")},
}


def grant(apps, schema_editor):
    # As in 0003: permissions are created after migrations (post_migrate); make them now.
    for app_config in apps.get_app_configs():
        app_config.models_module = True
        create_permissions(app_config, apps=apps, verbosity=0)
        app_config.models_module = None
    Group = apps.get_model("auth", "Group")
    Permission = apps.get_model("auth", "Permission")
    group, _ = Group.objects.get_or_create(name=GROUP)
    for app_label, models in PERMISSIONS.items():
        for model, actions in models.items():
            codenames = [f"{action}_{model}" for action in actions]
            group.permissions.add(
                *Permission.objects.filter(content_type__app_label=app_label, codename__in=codenames)
            )


def revoke(apps, schema_editor):
    Group = apps.get_model("auth", "Group")
    Permission = apps.get_model("auth", "Permission")
    group = Group.objects.filter(name=GROUP).first()
    if group is None:
        return
    for app_label, models in PERMISSIONS.items():
        for model, actions in models.items():
            codenames = [f"{action}_{model}" for action in actions]
            group.permissions.remove(
                *Permission.objects.filter(content_type__app_label=app_label, codename__in=codenames)
            )


class Migration(migrations.Migration):
    dependencies = [
        ("users", "0003_staff_group"),
        ("catalog", "0004_variants"),
        ("orders", "0004_checkout_pricing"),
        ("payments", "0001_initial"),
        ("nexus", "0002_outbox"),
    ]

    operations = [migrations.RunPython(grant, revoke)]
