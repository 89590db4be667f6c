"""Django admin for orders: read-only records whose changes go through the same services
as the API (admin actions), so the rules and the history are the same for both doors."""

from django.contrib import admin, messages

from nexus.exceptions import DomainError
from orders import services
from orders.models import IdempotencyKey, Order, OrderEvent, OrderItem


class OrderItemInline(admin.TabularInline):
    model = OrderItem
    extra = 0
    can_delete = False
    fields = ["product", "product_name", "sku", "unit_price", "quantity", "line_total"]
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


def _run(modeladmin, request, queryset, service, label: str, **kwargs) -> None:
    done, refused = 0, []
    for order in queryset.order_by("pk"):
        try:
            service(order=order, actor=request.user, **kwargs)
        except DomainError as exc:
            refused.append(f"{order.number}: {exc.detail}")
        else:
            done += 1
    if done:
        modeladmin.message_user(request, f"{label}: {done} order(s).", messages.SUCCESS)
    for line in refused:
        modeladmin.message_user(request, line, messages.ERROR)


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
    search_fields = ["number", "user__email"]
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
        "subtotal",
        "shipping_cost",
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


@admin.register(IdempotencyKey)
class IdempotencyKeyAdmin(admin.ModelAdmin):
    list_display = ["key", "user", "status", "response_status", "created_at"]
    list_filter = ["status"]
    search_fields = ["key", "user__email"]
    readonly_fields = [
        "user",
        "key",
        "request_hash",
        "status",
        "claim_token",
        "response_status",
        "response_body",
        "created_at",
        "locked_at",
    ]

    def has_add_permission(self, request) -> bool:
        return False
