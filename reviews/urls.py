"""URLs of the reviews app, mounted under /api/v1/: reviews/ and its actions."""

from rest_framework.routers import SimpleRouter

from reviews import views

router = SimpleRouter()
router.register("reviews", views.ReviewViewSet, basename="review")

urlpatterns = router.urls
