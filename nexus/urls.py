"""Root URL configuration: the API under /api/v1/, its schema and docs, health, admin."""

from csp.decorators import csp_replace
from django.conf import settings
from django.contrib import admin
from django.urls import include, path
from drf_spectacular.views import (
    SpectacularAPIView,
    SpectacularRedocView,
    SpectacularSwaggerSplitView,
)

from nexus.health import HealthView, ReadinessView

_docs_csp = csp_replace(settings.NEXUS_CSP_DOCS)

api_v1 = [
    path("auth/", include("users.urls_auth")),
    path("users/", include("users.urls")),
    path("", include("catalog.urls")),
    path("", include("cart.urls")),
    path("", include("orders.urls")),
    path("", include("reviews.urls")),
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
    path("health/", HealthView.as_view(), name="health"),
    path("health/ready/", ReadinessView.as_view(), name="health-ready"),
    path("api/v1/", include(api_v1)),
    path("admin/", admin.site.urls),
]

if settings.DEBUG:
    from django.conf.urls.static import static

    urlpatterns += static(settings.MEDIA_URL, document_root=settings.MEDIA_ROOT)

handler400 = "nexus.errors.handler400"
handler403 = "nexus.errors.handler403"
handler404 = "nexus.errors.handler404"
handler500 = "nexus.errors.handler500"
