"""Root URL configuration: the API under /api/v1/, its schema and docs, health, metrics,
admin; ``/`` redirects to the API docs and any other ``/api/`` address is problem+json."""

from csp.decorators import csp_replace
from django.conf import settings
from django.contrib import admin
from django.urls import include, path, re_path
from django.views.generic import RedirectView
from drf_spectacular.views import (
    SpectacularAPIView,
    SpectacularRedocView,
    SpectacularSwaggerSplitView,
)

from nexus.errors import api_fallback
from nexus.health import HealthView, ReadinessView
from nexus.metrics import metrics_view

_docs_csp = csp_replace(settings.NEXUS_CSP_DOCS)

api_v1 = [
    path("auth/", include("users.urls_auth")),
    path("users/", include("users.urls")),
    path("", include("catalog.urls")),
    path("", include("cart.urls")),
    path("", include("orders.urls")),
    path("", include("payments.urls")),
    path("", include("reviews.urls")),
    path("", include("webhooks.urls")),
    path("schema/", SpectacularAPIView.as_view(), name="schema"),
    path(
        "schema/swagger-ui/",
        _docs_csp(SpectacularSwaggerSplitView.as_view(url_name="schema")),
        name="swagger-ui",
    ),
    path(
        "schema/redoc/",
        _docs_csp(SpectacularRedocView.as_view(url_name="schema")),
        name="redoc",
    ),
]

urlpatterns = [
    path("", RedirectView.as_view(pattern_name="swagger-ui", permanent=False), name="root"),
    path("health/", HealthView.as_view(), name="health"),
    path("health/ready/", ReadinessView.as_view(), name="health-ready"),
    path("api/v1/", include(api_v1)),
    path("admin/", admin.site.urls),
    path("metrics", metrics_view, name="metrics"),
]

if settings.DEBUG:
    from django.conf.urls.static import static

    urlpatterns += static(settings.MEDIA_URL, document_root=settings.MEDIA_ROOT)

# Last, after the static files of DEBUG: whatever no route under /api/ matched.
urlpatterns.append(re_path(r"^api/(?P<rest>.*)$", api_fallback, name="api-fallback"))

handler400 = "nexus.errors.handler400"
handler403 = "nexus.errors.handler403"
handler404 = "nexus.errors.handler404"
handler500 = "nexus.errors.handler500"
