"""The staff role: a group with the permissions to process orders, moderate reviews and
edit the catalog in the admin (migrations users.0003_staff_group and 0004_staff_group_trade).

``is_staff`` only lets an account into the admin; what it may do there comes from its
permissions. An account created as staff by ``User.objects.create_user(is_staff=True)``
(the demo data, scripts) joins this group; superusers need no group. Add or remove
members in the admin (Users -> Groups) like any other group.
"""

STAFF_GROUP = "Shop staff"

# app_label -> model -> actions. Keep in step with the migration when apps add models
# staff manage (a new data migration adds their permissions to the group).
STAFF_PERMISSIONS: dict[str, dict[str, tuple[str, ...]]] = {
    "catalog": {
        "category": ("add", "change", "delete", "view"),
        "product": ("add", "change", "delete", "view"),
        "productimage": ("add", "change", "delete", "view"),
        "productoption": ("add", "change", "delete", "view"),
        "productoptionvalue": ("add", "change", "delete", "view"),
        "productvariant": ("add", "change", "delete", "view"),
        "productattribute": ("add", "change", "delete", "view"),
    },
    "orders": {
        "order": ("change", "view"),
        "orderitem": ("view",),
        "orderevent": ("view",),
        "shippingmethod": ("add", "change", "delete", "view"),
        "taxrate": ("add", "change", "delete", "view"),
        "voucher": ("add", "change", "delete", "view"),
        "voucherredemption": ("view",),
    },
    "payments": {"payment": ("change", "view"), "refund": ("view",), "stripeevent": ("view",)},
    "nexus": {"outboxmessage": ("change", "view")},
    "reviews": {
        "review": ("change", "delete", "view"),
        "reviewreport": ("change", "view"),
    },
    "cart": {"cart": ("view",), "cartitem": ("view",)},
    "users": {"user": ("view",), "address": ("view",)},
}


def staff_group_join(user) -> None:
    """Put a staff account (not a superuser) into the staff group, if the group exists."""
    from django.contrib.auth.models import Group

    if not user.is_staff or user.is_superuser:
        return
    group = Group.objects.filter(name=STAFF_GROUP).first()
    if group is not None:
        user.groups.add(group)
