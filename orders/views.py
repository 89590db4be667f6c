"""Order endpoints: checkout (idempotent), the caller's orders, cancellation, history, and
staff status and payment changes. Thin: validate, call a service or selector, serialize."""

from drf_spectacular.utils import extend_schema, extend_schema_view
from rest_framework import mixins, status, viewsets
from rest_framework.decorators import action
from rest_framework.permissions import IsAuthenticated
from rest_framework.response import Response

from orders import selectors, services
from orders.filters import OrderFilter
from orders.idempotency import IDEMPOTENCY_KEY_PARAMETER, idempotent
from orders.models import Order
from orders.permissions import IsStaffForObject
from orders.serializers import (
    OrderCancelSerializer,
    OrderCreateSerializer,
    OrderEventSerializer,
    OrderPaymentChangeSerializer,
    OrderSerializer,
    OrderStatusChangeSerializer,
)


@extend_schema_view(
    list=extend_schema(
        description="The caller's orders, newest first; staff see every order and may "
        "filter by `user`."
    ),
    retrieve=extend_schema(description="One order; another user's order is a 404."),
)
@extend_schema(tags=["orders"])
class OrderViewSet(mixins.ListModelMixin, mixins.RetrieveModelMixin, viewsets.GenericViewSet):
    serializer_class = OrderSerializer
    permission_classes = [IsAuthenticated]
    filterset_class = OrderFilter
    problem_statuses = {
        "create": {409, 422},
        "cancel": {409},
        "set_status": {409},
        "set_payment": {409},
    }

    def get_queryset(self):
        if getattr(self, "swagger_fake_view", False):
            return Order.objects.none()
        return selectors.order_list_for(user=self.request.user)

    def get_permissions(self):
        if self.action in ("set_status", "set_payment"):
            return [IsAuthenticated(), IsStaffForObject()]
        return super().get_permissions()

    def filter_queryset(self, queryset):
        if self.action != "list":
            return queryset
        return super().filter_queryset(queryset)

    def _order_response(self, order: Order, status_code: int = status.HTTP_200_OK) -> Response:
        order = selectors.order_queryset().get(pk=order.pk)
        return Response(self.get_serializer(order).data, status=status_code)

    @extend_schema(
        request=OrderCreateSerializer,
        responses={201: OrderSerializer},
        parameters=[IDEMPOTENCY_KEY_PARAMETER],
        description="Places an order from the caller's cart, all or nothing: stock is taken "
        "atomically, names, SKUs and prices are copied, both addresses are stored as "
        "snapshots, the cart is emptied and a confirmation is emailed. 409 `cart_empty`; "
        "409 `out_of_stock` with one entry in `errors` per short line (`product_id`, "
        "`requested`, `available`). Shipping is a flat rate, free from a threshold up.",
    )
    @idempotent
    def create(self, request):
        serializer = OrderCreateSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        order = services.order_place(user=request.user, **serializer.validated_data)
        return self._order_response(order, status.HTTP_201_CREATED)

    @extend_schema(
        request=OrderCancelSerializer,
        responses={200: OrderSerializer},
        description="Owner or staff, while `pending` or `processing`; the stock goes back. "
        "Otherwise 409 `invalid_transition`.",
    )
    @action(detail=True, methods=["post"])
    def cancel(self, request, pk=None):
        order = self.get_object()
        serializer = OrderCancelSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        order = services.order_cancel(order=order, actor=request.user, **serializer.validated_data)
        return self._order_response(order)

    @extend_schema(
        request=OrderStatusChangeSerializer,
        responses={200: OrderSerializer},
        description="Staff only (a customer gets 403 on their own order, 404 on others').",
    )
    @action(detail=True, methods=["post"], url_path="status")
    def set_status(self, request, pk=None):
        order = self.get_object()
        serializer = OrderStatusChangeSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        order = services.order_status_set(
            order=order, actor=request.user, **serializer.validated_data
        )
        return self._order_response(order)

    @extend_schema(
        request=OrderPaymentChangeSerializer,
        responses={200: OrderSerializer},
        description="Staff only (a customer gets 403 on their own order, 404 on others').",
    )
    @action(detail=True, methods=["post"], url_path="payment")
    def set_payment(self, request, pk=None):
        order = self.get_object()
        serializer = OrderPaymentChangeSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        order = services.order_payment_set(
            order=order, actor=request.user, **serializer.validated_data
        )
        return self._order_response(order)

    @extend_schema(
        responses={200: OrderEventSerializer(many=True)},
        description="The order's history, oldest first: placed, status, payment and "
        "tracking changes, with who, when and the note.",
    )
    @action(detail=True, methods=["get"], filterset_class=None)
    def events(self, request, pk=None):
        order = self.get_object()
        queryset = selectors.order_events(order=order)
        page = self.paginate_queryset(queryset)
        return self.get_paginated_response(OrderEventSerializer(page, many=True).data)
