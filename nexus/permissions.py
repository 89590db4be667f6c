"""Permissions shared by the apps: staff-only operations, checked before any object lookup
(a customer gets 403 whatever the id, so the answer says nothing about what exists)."""

from rest_framework.permissions import SAFE_METHODS, BasePermission


def is_staff(request) -> bool:
    user = getattr(request, "user", None)
    return bool(user and user.is_authenticated and user.is_staff)


class IsStaff(BasePermission):
    message = "Only staff may do this."

    def has_permission(self, request, view) -> bool:
        return is_staff(request)


class IsStaffOrReadOnly(BasePermission):
    """Anyone reads; staff write."""

    def has_permission(self, request, view) -> bool:
        return request.method in SAFE_METHODS or is_staff(request)
