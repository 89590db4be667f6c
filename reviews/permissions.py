"""Permissions of the reviews app."""

from rest_framework.permissions import BasePermission


class IsStaff(BasePermission):
    """Staff only, checked before any lookup: a customer gets 403 whatever the id, so
    the answer says nothing about which reviews exist."""

    message = "Only staff may moderate reviews."

    def has_permission(self, request, view) -> bool:
        return bool(request.user and request.user.is_authenticated and request.user.is_staff)
