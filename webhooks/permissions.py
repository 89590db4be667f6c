"""The admin role of the webhooks API: superusers only (checked before any lookup)."""

from rest_framework.permissions import BasePermission


class IsAdminRole(BasePermission):
    message = "Only admins may manage webhooks."

    def has_permission(self, request, view) -> bool:
        user = getattr(request, "user", None)
        return bool(user and user.is_authenticated and user.is_superuser)
