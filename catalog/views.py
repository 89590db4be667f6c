"""Catalog endpoints: categories, products (list/detail cached for the public), product
images and staff stock adjustments. Thin: validate, call a selector or a service, serialize."""

from django.http import HttpResponse
from drf_spectacular.utils import OpenApiParameter, OpenApiResponse, extend_schema
from rest_framework import status, viewsets
from rest_framework.decorators import action
from rest_framework.parsers import MultiPartParser
from rest_framework.permissions import BasePermission
from rest_framework.renderers import JSONRenderer
from rest_framework.response import Response
from rest_framework.views import APIView

from catalog import selectors, services
from catalog.cache import cache_enabled, response_get, response_set
from catalog.filters import CategoryFilter, ProductFilter
from catalog.models import Category, Product, ProductImage
from catalog.pagination import CatalogPagination
from catalog.permissions import IsStaffOrReadOnly, is_staff
from catalog.serializers import (
    CategorySerializer,
    CategoryWriteSerializer,
    ProductImageSerializer,
    ProductImageUploadSerializer,
    ProductSerializer,
    ProductWriteSerializer,
    StockAdjustSerializer,
)

_NO_BODY = OpenApiResponse(description="No response body")
_ID_OR_SLUG = OpenApiParameter(
    "id_or_slug", str, OpenApiParameter.PATH, description="The product's id or slug."
)


class _IsStaff(BasePermission):
    def has_permission(self, request, view) -> bool:
        return is_staff(request)


# --------------------------------------------------------------------------- categories


@extend_schema(tags=["catalog"])
class CategoryViewSet(viewsets.ModelViewSet):
    """Categories: public reads, staff writes. ``{id_or_slug}`` takes an id or a slug."""

    serializer_class = CategorySerializer
    permission_classes = [IsStaffOrReadOnly]
    filterset_class = CategoryFilter
    lookup_field = "slug"
    lookup_url_kwarg = "id_or_slug"
    lookup_value_regex = "[^/]+"
    http_method_names = ["get", "post", "put", "patch", "delete", "head", "options"]
    problem_statuses = {"destroy": {409}}

    def get_queryset(self):
        return selectors.category_list()

    def get_object(self) -> Category:
        return selectors.category_get(lookup=self.kwargs["id_or_slug"])

    def get_serializer_context(self):
        context = super().get_serializer_context()
        if not getattr(self, "swagger_fake_view", False):
            context["tree"] = selectors.category_tree()
        return context

    @extend_schema(request=CategoryWriteSerializer, responses={201: CategorySerializer})
    def create(self, request, *args, **kwargs):
        serializer = CategoryWriteSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        category = services.category_create(**serializer.validated_data)
        return Response(
            CategorySerializer(category, context=self.get_serializer_context()).data,
            status=status.HTTP_201_CREATED,
        )

    @extend_schema(request=CategoryWriteSerializer, responses={200: CategorySerializer})
    def update(self, request, *args, **kwargs):
        category = self.get_object()
        serializer = CategoryWriteSerializer(
            category, data=request.data, partial=kwargs.get("partial", False)
        )
        serializer.is_valid(raise_exception=True)
        category = services.category_update(category=category, data=serializer.validated_data)
        return Response(CategorySerializer(category, context=self.get_serializer_context()).data)

    @extend_schema(request=CategoryWriteSerializer, responses={200: CategorySerializer})
    def partial_update(self, request, *args, **kwargs):
        return self.update(request, *args, partial=True, **kwargs)

    @extend_schema(
        responses={204: _NO_BODY},
        description="409 `category_not_empty` while it holds products or subcategories.",
    )
    def destroy(self, request, *args, **kwargs):
        services.category_delete(category=self.get_object())
        return Response(status=status.HTTP_204_NO_CONTENT)


# --------------------------------------------------------------------------- products


@extend_schema(tags=["catalog"])
class ProductViewSet(viewsets.ModelViewSet):
    """Products. The public sees active products; staff see all and write.

    Public (non-staff) list and detail responses are cached as rendered JSON under the
    catalog version, so every committed catalog write shows on the next read.
    """

    serializer_class = ProductSerializer
    permission_classes = [IsStaffOrReadOnly]
    filterset_class = ProductFilter
    pagination_class = CatalogPagination
    lookup_field = "slug"
    lookup_url_kwarg = "id_or_slug"
    lookup_value_regex = "[^/]+"
    http_method_names = ["get", "post", "put", "patch", "delete", "head", "options"]
    problem_statuses = {"stock": {409}}

    def get_queryset(self):
        if getattr(self, "swagger_fake_view", False):
            return Product.objects.none()
        return selectors.product_list(staff=is_staff(self.request))

    def get_object(self) -> Product:
        return selectors.product_get(lookup=self.kwargs["id_or_slug"], staff=is_staff(self.request))

    def count_cache_key(self, params: str) -> str:
        return selectors.product_count_key(staff=is_staff(self.request), params=params)

    def _cached_response(self, kind: str, produce) -> HttpResponse | Response:
        """Public responses come from the cache when the catalog has not changed since
        they were rendered; staff responses are never cached."""
        if not cache_enabled() or is_staff(self.request):
            return produce()
        url = self.request.build_absolute_uri()
        version, body = response_get(kind, url)
        if body is not None:
            return HttpResponse(body, content_type="application/json")
        response = produce()
        if response.status_code == status.HTTP_200_OK:
            response_set(kind, url, version, JSONRenderer().render(response.data))
        return response

    def list(self, request, *args, **kwargs):
        return self._cached_response("list", lambda: super(ProductViewSet, self).list(request))

    def retrieve(self, request, *args, **kwargs):
        return self._cached_response(
            "detail", lambda: Response(self.get_serializer(self.get_object()).data)
        )

    def _shaped(self, product: Product) -> dict:
        return self.get_serializer(selectors.product_get(lookup=str(product.pk), staff=True)).data

    @extend_schema(request=ProductWriteSerializer, responses={201: ProductSerializer})
    def create(self, request, *args, **kwargs):
        serializer = ProductWriteSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        product = services.product_create(data=serializer.validated_data)
        return Response(self._shaped(product), status=status.HTTP_201_CREATED)

    @extend_schema(request=ProductWriteSerializer, responses={200: ProductSerializer})
    def update(self, request, *args, **kwargs):
        product = self.get_object()
        serializer = ProductWriteSerializer(
            product, data=request.data, partial=kwargs.get("partial", False)
        )
        serializer.is_valid(raise_exception=True)
        product = services.product_update(product=product, data=serializer.validated_data)
        return Response(self._shaped(product))

    @extend_schema(request=ProductWriteSerializer, responses={200: ProductSerializer})
    def partial_update(self, request, *args, **kwargs):
        return self.update(request, *args, partial=True, **kwargs)

    @extend_schema(
        responses={
            204: OpenApiResponse(description="Deleted."),
            200: OpenApiResponse(
                ProductSerializer,
                description="Still referenced (e.g. by orders): deactivated instead, "
                "and returned with `is_active: false`.",
            ),
        }
    )
    def destroy(self, request, *args, **kwargs):
        product = self.get_object()
        if services.product_delete(product=product):
            return Response(status=status.HTTP_204_NO_CONTENT)
        return Response(self._shaped(product))

    @extend_schema(
        request=StockAdjustSerializer,
        responses={200: ProductSerializer},
        description="Staff: add `delta` units to stock (negative removes) atomically, "
        "composing with concurrent checkouts. 409 `out_of_stock` when removing more than "
        "is left.",
    )
    @action(detail=True, methods=["post"], permission_classes=[_IsStaff])
    def stock(self, request, *args, **kwargs):
        product = self.get_object()
        serializer = StockAdjustSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        services.stock_adjust(product_id=product.pk, delta=serializer.validated_data["delta"])
        return Response(self._shaped(product))


# --------------------------------------------------------------------------- images


class ProductImageCreateView(APIView):
    permission_classes = [_IsStaff]
    parser_classes = [MultiPartParser]

    @extend_schema(
        tags=["catalog"],
        parameters=[_ID_OR_SLUG],
        request={"multipart/form-data": ProductImageUploadSerializer},
        responses={201: ProductImageSerializer},
        description="Staff: upload a product image (decoded to check it is one; at most "
        "5 MB, else 413 `image_too_large`). The first image, or one sent with "
        "`is_primary`, becomes the primary image.",
    )
    def post(self, request, id_or_slug: str):
        product = selectors.product_get(lookup=id_or_slug, staff=True)
        serializer = ProductImageUploadSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        image = services.product_image_add(product=product, **serializer.validated_data)
        return Response(
            ProductImageSerializer(image, context={"request": request}).data,
            status=status.HTTP_201_CREATED,
        )


class ProductImageDeleteView(APIView):
    permission_classes = [_IsStaff]

    @extend_schema(
        tags=["catalog"],
        parameters=[_ID_OR_SLUG, OpenApiParameter("image_id", int, OpenApiParameter.PATH)],
        responses={204: _NO_BODY},
        description="Staff: delete an image; a deleted primary image is succeeded by the "
        "product's next image.",
    )
    def delete(self, request, id_or_slug: str, image_id: int):
        product = selectors.product_get(lookup=id_or_slug, staff=True)
        image = ProductImage.objects.filter(product=product, pk=image_id).first()
        if image is None:
            from django.http import Http404

            raise Http404
        services.product_image_delete(image=image)
        return Response(status=status.HTTP_204_NO_CONTENT)
