"""Staff endpoints of the pricing rules (shipping methods, tax rates, vouchers) and the
public shipping-method listing per country. Thin: validate, call a service or selector."""

from drf_spectacular.utils import OpenApiParameter, OpenApiResponse, extend_schema
from rest_framework import serializers, status, viewsets
from rest_framework.response import Response

from nexus.openapi import NO_BODY
from nexus.permissions import IsStaff, IsStaffOrReadOnly, is_staff
from orders import pricing_services as services
from orders import selectors
from orders.models import ShippingMethod, TaxRate, Voucher
from orders.pricing_serializers import (
    ShippingMethodSerializer,
    TaxRateSerializer,
    VoucherSerializer,
)
from users.countries import validate_country_code

_HTTP_METHODS = ["get", "post", "put", "patch", "delete", "head", "options"]


class _RuleViewSet(viewsets.ModelViewSet):
    """CRUD whose writes go through ``save`` / ``remove`` (the services)."""

    http_method_names = _HTTP_METHODS

    def save(self, data, instance=None):
        raise NotImplementedError

    def remove(self, instance) -> bool:
        raise NotImplementedError

    def respond(self, instance, status_code=status.HTTP_200_OK) -> Response:
        instance.refresh_from_db()
        return Response(self.get_serializer(instance).data, status=status_code)

    def create(self, request, *args, **kwargs):
        serializer = self.get_serializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        return self.respond(self.save(serializer.validated_data), status.HTTP_201_CREATED)

    def update(self, request, *args, **kwargs):
        instance = self.get_object()
        serializer = self.get_serializer(
            instance, data=request.data, partial=kwargs.get("partial", False)
        )
        serializer.is_valid(raise_exception=True)
        return self.respond(self.save(serializer.validated_data, instance))

    def destroy(self, request, *args, **kwargs):
        instance = self.get_object()
        if self.remove(instance):
            return Response(status=status.HTTP_204_NO_CONTENT)
        return self.respond(instance)


_COUNTRY = OpenApiParameter(
    "country",
    str,
    OpenApiParameter.QUERY,
    required=False,
    description="ISO 3166-1 alpha-2: only methods that serve this country (400 otherwise).",
)


@extend_schema(tags=["checkout"])
class ShippingMethodViewSet(_RuleViewSet):
    """Shipping methods: the public lists active ones (per country); staff manage all."""

    serializer_class = ShippingMethodSerializer
    permission_classes = [IsStaffOrReadOnly]
    filterset_class = None

    def get_queryset(self):
        if getattr(self, "swagger_fake_view", False):
            return ShippingMethod.objects.none()
        methods = ShippingMethod.objects.order_by("price", "code")
        return methods if is_staff(self.request) else methods.filter(is_active=True)

    @extend_schema(
        parameters=[_COUNTRY],
        description="Active methods, cheapest first (staff: inactive too), that serve "
        "`country` when given. With no active method at all, checkout charges the flat "
        "rate (`standard`).",
    )
    def list(self, request, *args, **kwargs):
        raw = request.query_params.get("country", "")
        country = None
        if raw:
            try:
                country = validate_country_code(raw)
            except serializers.ValidationError as exc:
                raise serializers.ValidationError({"country": exc.detail}) from exc
        methods = selectors.shipping_methods_for(country=country, staff=is_staff(request))
        page = self.paginate_queryset(methods)
        return self.get_paginated_response(self.get_serializer(page, many=True).data)

    @extend_schema(responses={204: NO_BODY})
    def destroy(self, request, *args, **kwargs):
        return super().destroy(request, *args, **kwargs)

    def save(self, data, instance=None):
        return services.shipping_method_save(data=data, method=instance)

    def remove(self, instance) -> bool:
        services.shipping_method_delete(method=instance)
        return True


@extend_schema(tags=["checkout"])
class TaxRateViewSet(_RuleViewSet):
    """Tax rates per country and region (staff)."""

    serializer_class = TaxRateSerializer
    permission_classes = [IsStaff]
    filterset_class = None

    def get_queryset(self):
        return TaxRate.objects.order_by("country", "region", "id")

    @extend_schema(responses={204: NO_BODY})
    def destroy(self, request, *args, **kwargs):
        return super().destroy(request, *args, **kwargs)

    def save(self, data, instance=None):
        return services.tax_rate_save(data=data, rate=instance)

    def remove(self, instance) -> bool:
        services.tax_rate_delete(rate=instance)
        return True


@extend_schema(tags=["checkout"])
class VoucherViewSet(_RuleViewSet):
    """Vouchers (staff). ``used_count`` moves only with checkouts and cancellations."""

    serializer_class = VoucherSerializer
    permission_classes = [IsStaff]
    filterset_class = None

    def get_queryset(self):
        return Voucher.objects.prefetch_related("categories", "products").order_by(
            "-created_at", "-id"
        )

    @extend_schema(
        responses={
            204: OpenApiResponse(description="Deleted."),
            200: OpenApiResponse(
                VoucherSerializer,
                description="Used by orders: deactivated instead (`is_active: false`).",
            ),
        }
    )
    def destroy(self, request, *args, **kwargs):
        return super().destroy(request, *args, **kwargs)

    def save(self, data, instance=None):
        return services.voucher_save(data=data, voucher=instance)

    def remove(self, instance) -> bool:
        return services.voucher_delete(voucher=instance)
