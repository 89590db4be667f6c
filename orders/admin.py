"""Django admin for orders: read-only records whose changes go through the same services
as the API (admin actions), so the rules and the history are the same for both doors."""

from django.contrib import admin, messages

from nexus.admin import admin_run_per_row
from orders import pricing_services, services
from orders.models import Order, OrderEvent, OrderItem, ShippingMethod, TaxRate, Voucher


class OrderItemInline(admin.TabularInline):
    model = OrderItem
    extra = 0
    can_delete = False
    fields = [
        "product",
        "variant",
        "product_name",
        "variant_name",
        "sku",
        "unit_price",
        "quantity",
        "line_total",
        "discount_amount",
        "tax_rate",
        "tax_amount",
    ]
    readonly_fields = fields

    def has_add_permission(self, request, obj=None) -> bool:
        return False


class OrderEventInline(admin.TabularInline):
    model = OrderEvent
    extra = 0
    can_delete = False
    fields = ["created_at", "kind", "from_value", "to_value", "actor", "note"]
    readonly_fields = fields

    def has_add_permission(self, request, obj=None) -> bool:
        return False


def _run(modeladmin, request, queryset, service, label: str) -> None:
    admin_run_per_row(
        modeladmin,
        request,
        queryset,
        lambda order: service(order=order, actor=request.user),
        name=lambda order: order.number,
        done=f"{label}: {{count}} order(s).",
        level=messages.SUCCESS,
    )


@admin.register(Order)
class OrderAdmin(admin.ModelAdmin):
    list_display = [
        "number",
        "user",
        "status",
        "payment_status",
        "payment_method",
        "total",
        "currency",
        "created_at",
    ]
    list_filter = ["status", "payment_status", "payment_method", "created_at"]
    search_fields = ["number", "user__email", "email", "voucher_code"]
    list_select_related = ["user"]
    date_hierarchy = "created_at"
    ordering = ["-created_at", "-id"]
    inlines = [OrderItemInline, OrderEventInline]
    actions = ["mark_processing", "mark_shipped", "mark_delivered", "cancel", "mark_paid"]
    readonly_fields = [
        "number",
        "user",
        "status",
        "payment_status",
        "payment_method",
        "payment_reference",
        "email",
        "subtotal",
        "discount_total",
        "voucher_code",
        "shipping_method_code",
        "shipping_method_name",
        "shipping_cost",
        "shipping_tax_amount",
        "tax_total",
        "prices_include_tax",
        "total",
        "currency",
        "shipping_address",
        "billing_address",
        "note",
        "tracking_number",
        "created_at",
        "updated_at",
    ]

    def has_add_permission(self, request) -> bool:
        return False  # orders are placed by checkout only

    def has_delete_permission(self, request, obj=None) -> bool:
        return False  # history is never lost; cancel instead

    @admin.action(permissions=["change"], description="Mark processing")
    def mark_processing(self, request, queryset):
        _run(self, request, queryset, services.order_process, "Processing")

    @admin.action(permissions=["change"], description="Mark shipped (emails the customer)")
    def mark_shipped(self, request, queryset):
        _run(self, request, queryset, services.order_ship, "Shipped")

    @admin.action(permissions=["change"], description="Mark delivered")
    def mark_delivered(self, request, queryset):
        _run(self, request, queryset, services.order_deliver, "Delivered")

    @admin.action(permissions=["change"], description="Cancel (puts the stock back)")
    def cancel(self, request, queryset):
        _run(self, request, queryset, services.order_cancel, "Cancelled")

    @admin.action(permissions=["change"], description="Mark paid")
    def mark_paid(self, request, queryset):
        _run(self, request, queryset, services.order_mark_paid, "Paid")


# --------------------------------------------------------------------------- pricing rules


class _RuleAdmin(admin.ModelAdmin):
    """Saves and deletes through the pricing services (the API's rules, same refusals)."""

    def _saved(self, request, obj, form, change):
        raise NotImplementedError

    def save_model(self, request, obj, form, change):
        names = form.changed_data if change else list(form.cleaned_data)
        data = {name: form.cleaned_data[name] for name in names if name in form.cleaned_data}
        saved = self._saved(data, obj if change else None)
        obj.pk = saved.pk

    def save_related(self, request, form, formsets, change):
        pass  # many-to-many values went through the service with the rest


@admin.register(ShippingMethod)
class ShippingMethodAdmin(_RuleAdmin):
    list_display = ["code", "name", "price", "free_above", "countries", "is_active"]
    list_filter = ["is_active"]
    search_fields = ["code", "name"]

    def _saved(self, data, obj):
        return pricing_services.shipping_method_save(data=data, method=obj)

    def delete_model(self, request, obj):
        pricing_services.shipping_method_delete(method=obj)


@admin.register(TaxRate)
class TaxRateAdmin(_RuleAdmin):
    list_display = ["country", "region", "rate", "applies_to_shipping", "name"]
    list_filter = ["country", "applies_to_shipping"]
    search_fields = ["country", "region", "name"]

    def _saved(self, data, obj):
        return pricing_services.tax_rate_save(data=data, rate=obj)

    def delete_model(self, request, obj):
        pricing_services.tax_rate_delete(rate=obj)


@admin.register(Voucher)
class VoucherAdmin(_RuleAdmin):
    list_display = [
        "code",
        "kind",
        "value",
        "starts_at",
        "ends_at",
        "used_count",
        "usage_limit",
        "is_active",
    ]
    list_filter = ["kind", "is_active", "once_per_customer"]
    search_fields = ["code"]
    readonly_fields = ["used_count"]
    filter_horizontal = ["categories", "products"]

    def _saved(self, data, obj):
        return pricing_services.voucher_save(data=data, voucher=obj)

    def delete_model(self, request, obj):
        pricing_services.voucher_delete(voucher=obj)
