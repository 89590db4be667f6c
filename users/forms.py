"""Admin forms: the admin's login form goes through the API's lockout, and the user forms
refuse an email that normalises to an existing account's (users.models.email_key)."""

from django import forms
from django.contrib.admin.forms import AdminAuthenticationForm
from django.contrib.auth.forms import UserChangeForm, UserCreationForm

from users import services
from users.errors import InvalidCredentials, TooManyLoginAttempts
from users.models import User, email_key


class AdminLoginForm(AdminAuthenticationForm):
    """``/admin/login/``: the password is checked by ``services.credentials_verify``, so
    failures here count toward the same per-account and per-address lockout as the API,
    and a locked account cannot sign in to the admin with the right password."""

    error_messages = {
        **AdminAuthenticationForm.error_messages,
        "too_many_login_attempts": "Too many failed sign-ins. Try again in %(seconds)s seconds.",
    }

    def clean(self):
        email = self.cleaned_data.get("username")
        password = self.cleaned_data.get("password")
        if email is not None and password:
            try:
                self.user_cache = services.credentials_verify(
                    email=email,
                    password=password,
                    address=services.client_address(self.request),
                )
            except TooManyLoginAttempts as exc:
                raise forms.ValidationError(
                    self.error_messages["too_many_login_attempts"],
                    code="too_many_login_attempts",
                    params={"seconds": exc.extra["retry_after"]},
                ) from exc
            except InvalidCredentials as exc:
                raise self.get_invalid_login_error() from exc
            self.confirm_login_allowed(self.user_cache)
        return self.cleaned_data


class _UniqueEmailKeyMixin:
    def clean_email(self):
        email = self.cleaned_data.get("email")
        if email:
            taken = User.objects.filter(email_normalized=email_key(email))
            if self.instance.pk:
                taken = taken.exclude(pk=self.instance.pk)
            if taken.exists():
                raise forms.ValidationError(
                    "An account with this email already exists.", code="unique"
                )
        return email


class UserAdminCreationForm(_UniqueEmailKeyMixin, UserCreationForm):
    class Meta(UserCreationForm.Meta):
        model = User
        fields = ("email", "username")


class UserAdminChangeForm(_UniqueEmailKeyMixin, UserChangeForm):
    class Meta(UserChangeForm.Meta):
        model = User
