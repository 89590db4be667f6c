"""Webhook endpoints (admin role): CRUD, the delivery log and redelivery. Thin: validate,
call a service or selector, serialize."""

from drf_spectacular.utils import OpenApiParameter, extend_schema, extend_schema_view
from rest_framework import mixins, status, viewsets
from rest_framework.decorators import action
from rest_framework.generics import get_object_or_404
from rest_framework.response import Response

from webhooks import selectors, services
from webhooks.models import WebhookEndpoint
from webhooks.permissions import IsAdminRole
from webhooks.serializers import (
    WebhookDeliveryDetailSerializer,
    WebhookDeliverySerializer,
    WebhookEndpointCreatedSerializer,
    WebhookEndpointSerializer,
    WebhookEndpointWriteSerializer,
)

_URL_CODES = (
    "400 `webhook_url_invalid` (not http(s), credentials in it), `webhook_url_unresolvable` "
    "or `webhook_url_forbidden` (loopback, private, link-local or metadata address; "
    "`NEXUS_WEBHOOKS_ALLOW_PRIVATE=1` admits all but metadata)."
)


@extend_schema_view(
    list=extend_schema(description="Every webhook endpoint (admin role). Never the secret."),
    retrieve=extend_schema(description="One endpoint (admin role). Never the secret."),
    destroy=extend_schema(description="Delete the endpoint and its delivery log."),
)
@extend_schema(tags=["webhooks"])
class WebhookViewSet(
    mixins.ListModelMixin,
    mixins.RetrieveModelMixin,
    mixins.DestroyModelMixin,
    viewsets.GenericViewSet,
):
    serializer_class = WebhookEndpointSerializer
    permission_classes = [IsAdminRole]
    problem_statuses = {"create": {400}, "partial_update": {400}}

    def get_queryset(self):
        return selectors.endpoints_list()

    @extend_schema(
        request=WebhookEndpointWriteSerializer,
        responses={201: WebhookEndpointCreatedSerializer},
        description="Register an endpoint. The answer holds the generated `secret`, the "
        "only time it is shown. " + _URL_CODES,
    )
    def create(self, request):
        serializer = WebhookEndpointWriteSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        endpoint = services.endpoint_create(**serializer.validated_data)
        return Response(
            WebhookEndpointCreatedSerializer(endpoint).data, status=status.HTTP_201_CREATED
        )

    @extend_schema(
        request=WebhookEndpointWriteSerializer(partial=True),
        responses={200: WebhookEndpointSerializer},
        description="Change url, events, description or is_active; activating clears the "
        "failure count. " + _URL_CODES,
    )
    def partial_update(self, request, pk=None):
        endpoint = self.get_object()
        serializer = WebhookEndpointWriteSerializer(data=request.data, partial=True)
        serializer.is_valid(raise_exception=True)
        data = dict(serializer.validated_data)
        if "is_active" not in request.data:
            data.pop("is_active", None)  # the field's default must not reactivate anything
        endpoint = services.endpoint_update(endpoint=endpoint, data=data)
        return Response(WebhookEndpointSerializer(endpoint).data)

    def perform_destroy(self, instance: WebhookEndpoint) -> None:
        services.endpoint_delete(endpoint=instance)


_WEBHOOK_ID = OpenApiParameter("webhook_id", int, OpenApiParameter.PATH)


@extend_schema_view(
    list=extend_schema(
        description="The endpoint's delivery log, newest first.", parameters=[_WEBHOOK_ID]
    ),
    retrieve=extend_schema(
        description="One delivery with the payload it sends.",
        parameters=[_WEBHOOK_ID],
        responses={200: WebhookDeliveryDetailSerializer},
    ),
)
@extend_schema(tags=["webhooks"])
class WebhookDeliveryViewSet(
    mixins.ListModelMixin, mixins.RetrieveModelMixin, viewsets.GenericViewSet
):
    serializer_class = WebhookDeliverySerializer
    permission_classes = [IsAdminRole]
    problem_statuses = {"redeliver": {409}}

    def get_queryset(self):
        if getattr(self, "swagger_fake_view", False):
            return WebhookEndpoint.objects.none()
        endpoint = get_object_or_404(selectors.endpoints_list(), pk=self.kwargs["webhook_id"])
        return selectors.deliveries_for_endpoint(endpoint=endpoint)

    def get_serializer_class(self):
        if self.action == "retrieve":
            return WebhookDeliveryDetailSerializer
        return super().get_serializer_class()

    @extend_schema(
        request=None,
        responses={202: WebhookDeliverySerializer},
        parameters=[_WEBHOOK_ID],
        description="Send the event again (same event id). 409 `delivery_pending` while it "
        "is still pending, 409 `webhook_inactive` when the endpoint is inactive.",
    )
    @action(detail=True, methods=["post"])
    def redeliver(self, request, webhook_id=None, pk=None):
        delivery = services.delivery_redeliver(delivery=self.get_object())
        return Response(WebhookDeliverySerializer(delivery).data, status=status.HTTP_202_ACCEPTED)
