"""Admin plumbing: the Idempotency-Key records, the outbox (failed rows, a retry action),
and ``admin_run_per_row``, the loop every app's admin actions use to call a service once
per selected row."""

from collections.abc import Callable
from typing import Any

from django.contrib import admin, messages
from django.db.models import QuerySet

from nexus.exceptions import DomainError
from nexus.models import IdempotencyKey, OutboxMessage, OutboxStatus
from nexus.outbox import outbox_retry


def admin_run_per_row(
    modeladmin: admin.ModelAdmin,
    request,
    queryset: QuerySet,
    run: Callable[[Any], Any],
    *,
    name: Callable[[Any], str],
    done: str,
    level: int = messages.INFO,
) -> None:
    """Call ``run(row)`` for each selected row in primary-key order, each in the service's
    own transaction, so one refusal does not undo the others.

    A ``DomainError`` is collected as ``"<name(row)>: <detail>"`` and shown as an error
    message; the rows that went through are counted in ``done`` (formatted with ``count``).
    """
    count, refused = 0, []
    for row in queryset.order_by("pk"):
        try:
            run(row)
        except DomainError as exc:
            refused.append(f"{name(row)}: {exc.detail}")
        else:
            count += 1
    if count:
        modeladmin.message_user(request, done.format(count=count), level)
    for line in refused:
        modeladmin.message_user(request, line, messages.ERROR)


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


@admin.register(OutboxMessage)
class OutboxMessageAdmin(admin.ModelAdmin):
    list_display = [
        "id",
        "kind",
        "status",
        "attempts",
        "max_attempts",
        "next_attempt_at",
        "created_at",
        "delivered_at",
        "short_error",
    ]
    list_filter = ["status", "kind"]
    search_fields = ["=id", "last_error"]
    date_hierarchy = "created_at"
    actions = ["retry_selected"]
    # Written only by nexus.outbox: the admin reads and retries, it never edits a row.
    readonly_fields = [f.name for f in OutboxMessage._meta.fields]

    def has_add_permission(self, request) -> bool:
        return False

    @admin.display(description="last error")
    def short_error(self, obj: OutboxMessage) -> str:
        return obj.last_error[:80]

    @admin.action(description="Retry the selected failed deliveries", permissions=["change"])
    def retry_selected(self, request, queryset):
        failed = list(queryset.filter(status=OutboxStatus.FAILED).values_list("id", flat=True))
        retried = outbox_retry(message_ids=failed)
        skipped = queryset.count() - retried
        self.message_user(request, f"{retried} delivery(ies) queued again.", level=messages.SUCCESS)
        if skipped:
            self.message_user(
                request,
                f"{skipped} selected row(s) were not failed; left unchanged.",
                level=messages.WARNING,
            )
