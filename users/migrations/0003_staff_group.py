"""The "Shop staff" group: the permissions to process orders, moderate reviews and edit
the catalog in the admin; existing staff accounts (not superusers) join it."""

from django.contrib.auth.management import create_permissions
from django.db import migrations

GROUP = "Shop staff"
PERMISSIONS = {
    "catalog": {
        "category": ("add", "change", "delete", "view"),
        "product": ("add", "change", "delete", "view"),
        "productimage": ("add", "change", "delete", "view"),
    },
    "orders": {
        "order": ("change", "view"),
        "orderitem": ("view",),
        "orderevent": ("view",),
    },
    "reviews": {
        "review": ("change", "delete", "view"),
        "reviewreport": ("change", "view"),
    },
    "cart": {"cart": ("view",), "cartitem": ("view",)},
    "users": {"user": ("view",), "address": ("view",)},
}


def create_group(apps, schema_editor):
    # Permissions are normally created after all migrations ran (post_migrate); create
    # them now so that the group can be given them on a fresh database.
    for app_config in apps.get_app_configs():
        app_config.models_module = True
        create_permissions(app_config, apps=apps, verbosity=0)
        app_config.models_module = None
    Group = apps.get_model("auth", "Group")
    Permission = apps.get_model("auth", "Permission")
    User = apps.get_model("users", "User")
    group, _ = Group.objects.get_or_create(name=GROUP)
    for app_label, models in PERMISSIONS.items():
        for model, actions in models.items():
            codenames = [f"{action}_{model}" for action in actions]
            found = Permission.objects.filter(
                content_type__app_label=app_label, codename__in=codenames
            )
            group.permissions.add(*found)
    for user in User.objects.filter(is_staff=True, is_superuser=False):
        user.groups.add(group)


def remove_group(apps, schema_editor):
    apps.get_model("auth", "Group").objects.filter(name=GROUP).delete()


class Migration(migrations.Migration):
    dependencies = [
        ("auth", "0012_alter_user_first_name_max_length"),
        ("contenttypes", "0002_remove_content_type_name"),
        ("users", "0002_security_identity"),
        ("catalog", "0003_product_search"),
        ("orders", "0001_initial"),
        ("reviews", "0001_initial"),
        ("cart", "0002_cartitem_quantity_requested"),
    ]

    operations = [migrations.RunPython(create_group, remove_group)]
