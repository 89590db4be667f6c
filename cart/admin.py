"""Django admin for carts: value at current prices, an "abandoned" filter, and the lines."""

from datetime import timedelta

from django.contrib import admin
from django.utils import timezone

from cart import selectors
from cart.models import Cart, CartItem

ABANDONED_AFTER = timedelta(hours=24)


class AbandonedFilter(admin.SimpleListFilter):
    title = "abandoned"
    parameter_name = "abandoned"

    def lookups(self, request, model_admin):
        return [("yes", "Abandoned (non-empty, idle 24 h)"), ("no", "Active or empty")]

    def queryset(self, request, queryset):
        before = timezone.now() - ABANDONED_AFTER
        if self.value() == "yes":
            return queryset.filter(updated_at__lt=before, item_count__gt=0)
        if self.value() == "no":
            return queryset.exclude(updated_at__lt=before, item_count__gt=0)
        return queryset


class GuestFilter(admin.SimpleListFilter):
    title = "owner"
    parameter_name = "guest"

    def lookups(self, request, model_admin):
        return [("yes", "Guest carts"), ("no", "User carts")]

    def queryset(self, request, queryset):
        if self.value() in ("yes", "no"):
            return queryset.filter(user__isnull=self.value() == "yes")
        return queryset


class CartItemInline(admin.TabularInline):
    model = CartItem
    extra = 0
    raw_id_fields = ["variant"]
    fields = ["variant", "quantity", "unit_price_at_add", "quantity_requested", "updated_at"]
    readonly_fields = ["updated_at"]


@admin.register(Cart)
class CartAdmin(admin.ModelAdmin):
    list_display = ["id", "owner", "item_count", "units", "value", "updated_at", "created_at"]
    list_filter = [AbandonedFilter, GuestFilter, "updated_at"]
    search_fields = ["user__email", "token"]
    raw_id_fields = ["user"]
    readonly_fields = ["token", "created_at", "updated_at"]
    ordering = ["-updated_at"]
    inlines = [CartItemInline]

    def get_queryset(self, request):
        return selectors.carts_with_value()

    @admin.display(description="owner", ordering="user__email")
    def owner(self, obj: Cart) -> str:
        return obj.user.email if obj.user else "guest"

    @admin.display(description="lines", ordering="item_count")
    def item_count(self, obj: Cart) -> int:
        return obj.item_count

    @admin.display(description="units", ordering="units")
    def units(self, obj: Cart) -> int:
        return obj.units

    @admin.display(description="value", ordering="value")
    def value(self, obj: Cart):
        return obj.value
