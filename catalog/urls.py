"""URLs of the catalog app, mounted under /api/v1/."""

from django.urls import path
from rest_framework.routers import SimpleRouter

from catalog import views

router = SimpleRouter()
router.register("categories", views.CategoryViewSet, basename="category")
router.register("products", views.ProductViewSet, basename="product")

urlpatterns = [
    path(
        "products/<str:id_or_slug>/images/",
        views.ProductImageCreateView.as_view(),
        name="product-image-create",
    ),
    path(
        "products/<str:id_or_slug>/images/<int:image_id>/",
        views.ProductImageDeleteView.as_view(),
        name="product-image-delete",
    ),
    path(
        "products/<str:id_or_slug>/variants/",
        views.ProductVariantListView.as_view(),
        name="product-variant-list",
    ),
    path(
        "products/<str:id_or_slug>/variants/<int:variant_id>/",
        views.ProductVariantDetailView.as_view(),
        name="product-variant-detail",
    ),
    path(
        "products/<str:id_or_slug>/variants/<int:variant_id>/stock/",
        views.ProductVariantStockView.as_view(),
        name="product-variant-stock",
    ),
    *router.urls,
]
