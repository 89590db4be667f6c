"""URLs under /api/v1/users/."""

from django.urls import path
from rest_framework.routers import SimpleRouter

from users import views

router = SimpleRouter()
router.register("addresses", views.AddressViewSet, basename="address")

urlpatterns = [
    path("profile/", views.ProfileView.as_view(), name="user-profile"),
    *router.urls,
]
