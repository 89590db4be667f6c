"""Query filters of the order list (customers filter their own orders, staff every order)."""

import django_filters

from nexus.filters import IdFilter, IsoDateTimeFilter
from orders.choices import OrderStatus, PaymentStatus
from orders.models import Order


class OrderFilter(django_filters.FilterSet):
    status = django_filters.ChoiceFilter(choices=OrderStatus.choices)
    payment_status = django_filters.ChoiceFilter(choices=PaymentStatus.choices)
    user = IdFilter(field_name="user_id", help_text="A user id (staff).")
    created_after = IsoDateTimeFilter(
        field_name="created_at", lookup_expr="gte", help_text="ISO 8601, inclusive."
    )
    created_before = IsoDateTimeFilter(
        field_name="created_at", lookup_expr="lt", help_text="ISO 8601, exclusive."
    )

    class Meta:
        model = Order
        fields = ["status", "payment_status", "user", "created_after", "created_before"]
