"""Django admin for payments: read-only records; the refund action calls the same service
as the API (``payments.services.refund_create``)."""

from django.contrib import admin, messages

from nexus.exceptions import DomainError
from payments import services
from payments.models import Payment, Refund, StripeEvent


class RefundInline(admin.TabularInline):
    model = Refund
    extra = 0
    can_delete = False
    fields = [
        "created_at",
        "amount",
        "status",
        "provider_reference",
        "automatic",
        "reason",
        "actor",
    ]
    readonly_fields = fields

    def has_add_permission(self, request, obj=None) -> bool:
        return False


@admin.register(Payment)
class PaymentAdmin(admin.ModelAdmin):
    list_display = [
        "id",
        "order",
        "provider",
        "status",
        "amount",
        "amount_refunded",
        "currency",
        "created_at",
    ]
    list_filter = ["provider", "status", "created_at"]
    search_fields = ["order__number", "provider_reference"]
    list_select_related = ["order"]
    ordering = ["-created_at", "-id"]
    inlines = [RefundInline]
    actions = ["refund_remaining"]
    readonly_fields = [
        "order",
        "provider",
        "status",
        "amount",
        "amount_refunded",
        "currency",
        "provider_reference",
        "failure_message",
        "created_at",
        "updated_at",
    ]
    exclude = ["client_secret"]

    def has_add_permission(self, request) -> bool:
        return False

    def has_delete_permission(self, request, obj=None) -> bool:
        return False

    @admin.action(permissions=["change"], description="Refund what remains of the payment")
    def refund_remaining(self, request, queryset):
        for payment in queryset.select_related("order").order_by("pk"):
            left = payment.amount - payment.amount_refunded
            try:
                refund = services.refund_create(
                    order=payment.order,
                    actor=request.user,
                    amount=left,
                    reason="Refunded from the admin.",
                    payment=payment,
                )
            except DomainError as exc:
                self.message_user(request, f"{payment.order.number}: {exc.detail}", messages.ERROR)
            else:
                self.message_user(
                    request,
                    f"{payment.order.number}: refund of {refund.amount} {payment.currency} "
                    f"{refund.status}.",
                    messages.SUCCESS,
                )


@admin.register(Refund)
class RefundAdmin(admin.ModelAdmin):
    list_display = ["id", "order", "amount", "status", "provider", "automatic", "created_at"]
    list_filter = ["status", "provider", "automatic"]
    search_fields = ["order__number", "provider_reference"]
    list_select_related = ["order"]
    ordering = ["-created_at", "-id"]
    readonly_fields = [
        "order",
        "payment",
        "provider",
        "status",
        "amount",
        "reason",
        "automatic",
        "provider_reference",
        "actor",
        "created_at",
        "updated_at",
    ]

    def has_add_permission(self, request) -> bool:
        return False

    def has_delete_permission(self, request, obj=None) -> bool:
        return False


@admin.register(StripeEvent)
class StripeEventAdmin(admin.ModelAdmin):
    list_display = ["event_id", "type", "outcome", "object_id", "received_at"]
    list_filter = ["outcome", "type"]
    search_fields = ["event_id", "object_id"]
    readonly_fields = ["event_id", "type", "outcome", "object_id", "received_at"]

    def has_add_permission(self, request) -> bool:
        return False

    def has_change_permission(self, request, obj=None) -> bool:
        return False
