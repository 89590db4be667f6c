"""Admin pages of webhooks: endpoints (the secret shown once, on create; deactivated
endpoints flagged on the list) and the delivery log with a redeliver action. Every change
goes through webhooks.services, like the API. Superusers only, as in the API."""

from django import forms
from django.contrib import admin, messages

from nexus.admin import admin_run_per_row
from nexus.events import EVENT_TYPES
from nexus.exceptions import DomainError
from webhooks import services
from webhooks.models import WebhookDelivery, WebhookEndpoint


class _SuperuserOnly:
    def has_module_permission(self, request) -> bool:
        return request.user.is_active and request.user.is_superuser

    def has_view_permission(self, request, obj=None) -> bool:
        return self.has_module_permission(request)

    def has_change_permission(self, request, obj=None) -> bool:
        return self.has_module_permission(request)

    def has_delete_permission(self, request, obj=None) -> bool:
        return self.has_module_permission(request)


_EDITABLE = ["url", "description", "events", "is_active"]


class WebhookEndpointForm(forms.ModelForm):
    url = forms.URLField(max_length=2000, assume_scheme="https")
    events = forms.MultipleChoiceField(
        choices=[(event, event) for event in EVENT_TYPES], widget=forms.CheckboxSelectMultiple
    )

    class Meta:
        model = WebhookEndpoint
        fields = _EDITABLE

    def clean(self):
        cleaned = super().clean()
        # The same checks as the API (URL safety, event names), shown on the form.
        if cleaned.get("url") and (self.instance.pk is None or "url" in self.changed_data):
            try:
                services._url_checked(cleaned["url"])
            except DomainError as exc:
                self.add_error("url", exc.detail)
        return cleaned


@admin.register(WebhookEndpoint)
class WebhookEndpointAdmin(_SuperuserOnly, admin.ModelAdmin):
    form = WebhookEndpointForm
    list_display = [
        "id",
        "url",
        "is_active",
        "failure_count",
        "last_delivery_at",
        "deactivated_at",
        "deactivated_reason",
    ]
    list_filter = ["is_active"]
    search_fields = ["url", "description"]
    readonly_fields = [
        "failure_count",
        "last_delivery_at",
        "deactivated_at",
        "deactivated_reason",
        "created_at",
        "updated_at",
    ]
    actions = ["activate", "deactivate"]

    def has_add_permission(self, request) -> bool:
        return self.has_module_permission(request)

    def save_model(self, request, obj, form, change):
        data = {
            field: form.cleaned_data[field] for field in _EDITABLE if field in form.cleaned_data
        }
        if change:
            endpoint = services.endpoint_update(endpoint=obj, data=data)
        else:
            endpoint = services.endpoint_create(**data)
            self.message_user(
                request,
                f"Signing secret of {endpoint.url} (shown only now, store it): {endpoint.secret}",
                messages.WARNING,
            )
        obj.pk = endpoint.pk
        obj.refresh_from_db()

    def delete_model(self, request, obj):
        services.endpoint_delete(endpoint=obj)

    def changelist_view(self, request, extra_context=None):
        for endpoint in WebhookEndpoint.objects.filter(
            is_active=False, deactivated_at__isnull=False
        ):
            self.message_user(
                request,
                f"Webhook {endpoint.url} was deactivated at "
                f"{endpoint.deactivated_at:%Y-%m-%d %H:%M} UTC ({endpoint.deactivated_reason}). "
                "Activate it when the receiver "
                "works again, then redeliver its failed deliveries.",
                messages.WARNING,
            )
        return super().changelist_view(request, extra_context)

    @admin.action(description="Activate (clears the failure count)")
    def activate(self, request, queryset):
        admin_run_per_row(
            self,
            request,
            queryset,
            lambda endpoint: services.endpoint_update(endpoint=endpoint, data={"is_active": True}),
            name=lambda endpoint: endpoint.url,
            done="Activated {count} webhook(s).",
        )

    @admin.action(description="Deactivate")
    def deactivate(self, request, queryset):
        admin_run_per_row(
            self,
            request,
            queryset,
            lambda endpoint: services.endpoint_update(endpoint=endpoint, data={"is_active": False}),
            name=lambda endpoint: endpoint.url,
            done="Deactivated {count} webhook(s).",
        )


@admin.register(WebhookDelivery)
class WebhookDeliveryAdmin(_SuperuserOnly, admin.ModelAdmin):
    list_display = [
        "id",
        "endpoint",
        "event_type",
        "event_id",
        "status",
        "attempts",
        "response_status",
        "duration_ms",
        "created_at",
        "last_error",
    ]
    list_filter = ["status", "event__type", "endpoint"]
    search_fields = ["event__id", "endpoint__url"]
    list_select_related = ["endpoint", "event"]
    readonly_fields = [
        "endpoint",
        "event",
        "status",
        "attempts",
        "response_status",
        "duration_ms",
        "response_body",
        "last_error",
        "created_at",
        "last_attempt_at",
        "delivered_at",
    ]
    actions = ["redeliver"]

    def has_add_permission(self, request) -> bool:
        return False

    def has_change_permission(self, request, obj=None) -> bool:
        return False

    @admin.display(description="event", ordering="event__type")
    def event_type(self, delivery: WebhookDelivery) -> str:
        return delivery.event.type

    @admin.action(description="Redeliver")
    def redeliver(self, request, queryset):
        admin_run_per_row(
            self,
            request,
            queryset,
            lambda delivery: services.delivery_redeliver(delivery=delivery),
            name=lambda delivery: f"delivery {delivery.pk}",
            done="Queued {count} redelivery(ies).",
        )
