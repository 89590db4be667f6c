"""Django admin for users and their addresses."""

from django.contrib import admin
from django.contrib.auth.admin import UserAdmin as DjangoUserAdmin

from users.forms import AdminLoginForm, UserAdminChangeForm, UserAdminCreationForm
from users.models import Address, LoginFailure, RevokedSession, User

# /admin/login/ checks passwords through the API's lockout (users.services.credentials_verify).
admin.site.login_form = AdminLoginForm


class AddressInline(admin.StackedInline):
    model = Address
    extra = 0


@admin.register(User)
class UserAdmin(DjangoUserAdmin):
    form = UserAdminChangeForm
    add_form = UserAdminCreationForm
    ordering = ["-date_joined"]
    list_display = [
        "email",
        "username",
        "first_name",
        "last_name",
        "role",
        "is_active",
        "date_joined",
    ]
    list_filter = ["is_staff", "is_superuser", "is_active", "date_joined"]
    search_fields = ["email", "username", "first_name", "last_name", "phone_number"]
    inlines = [AddressInline]
    fieldsets = (
        (None, {"fields": ("email", "username", "password")}),
        ("Personal info", {"fields": ("first_name", "last_name", "phone_number")}),
        (
            "Permissions",
            {"fields": ("is_active", "is_staff", "is_superuser", "groups", "user_permissions")},
        ),
        ("Important dates", {"fields": ("last_login", "date_joined")}),
    )
    add_fieldsets = (
        (None, {"classes": ("wide",), "fields": ("email", "username", "password1", "password2")}),
    )

    @admin.display(description="role")
    def role(self, obj: User) -> str:
        return obj.role


@admin.register(Address)
class AddressAdmin(admin.ModelAdmin):
    list_display = [
        "full_name",
        "user",
        "city",
        "country",
        "is_default_shipping",
        "is_default_billing",
    ]
    list_filter = ["country", "is_default_shipping", "is_default_billing"]
    search_fields = ["full_name", "street", "city", "postal_code", "user__email"]
    list_select_related = ["user"]
    raw_id_fields = ["user"]


@admin.register(LoginFailure)
class LoginFailureAdmin(admin.ModelAdmin):
    list_display = ["key", "failures", "window_started_at", "locked_until"]
    search_fields = ["key"]
    readonly_fields = ["key", "failures", "window_started_at"]


@admin.register(RevokedSession)
class RevokedSessionAdmin(admin.ModelAdmin):
    """Sessions ended for refresh-token reuse (read-only: the API writes them)."""

    list_display = ["sid", "expires_at"]
    search_fields = ["sid"]
    readonly_fields = ["sid", "expires_at"]
