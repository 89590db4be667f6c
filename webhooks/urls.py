"""URLs of the webhooks app, mounted under /api/v1/."""

from rest_framework.routers import SimpleRouter

from webhooks.views import WebhookDeliveryViewSet, WebhookViewSet

router = SimpleRouter()
router.register("webhooks", WebhookViewSet, basename="webhook")
router.register(
    r"webhooks/(?P<webhook_id>\d+)/deliveries", WebhookDeliveryViewSet, basename="webhook-delivery"
)

urlpatterns = router.urls
