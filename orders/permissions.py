"""Permissions of the orders app."""

from rest_framework.permissions import BasePermission


class IsStaffForObject(BasePermission):
    """Staff only, checked on the object: a customer who may see the order gets 403, and
    one who may not still gets the 404 of the scoped queryset first."""

    message = "Only staff may change an order's status or payment."

    def has_object_permission(self, request, view, obj) -> bool:
        return bool(request.user and request.user.is_staff)
